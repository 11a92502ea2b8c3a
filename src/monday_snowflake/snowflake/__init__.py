"""Snowflake side: connections and auth, SQL building and quoting, the embedded warehouse, the bulk loader."""
