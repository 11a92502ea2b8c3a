"""monday-snowflake: keep monday.com boards and Snowflake tables in sync, both ways."""

__version__ = "0.1.0"
