"""Reverse sync: Snowflake rows written to monday items, sending only what changed."""
