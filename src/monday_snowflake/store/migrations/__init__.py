"""Alembic migrations of the state store, run programmatically by `monday_snowflake.store.db.upgrade`."""
