"""The state store: SQLAlchemy tables, the `Store` repository, run locks and Alembic migrations."""

from monday_snowflake.store.crypto import SecretBox, load_or_create_key
from monday_snowflake.store.db import make_engine, upgrade
from monday_snowflake.store.locks import LockInfo, LockLostError
from monday_snowflake.store.records import (
    AccountRecord,
    ConnectionPublic,
    FeatureFlag,
    RunRecord,
    SubtaskRecord,
    UserRecord,
)
from monday_snowflake.store.repository import DEFAULT_ACCOUNT_ID, Store

__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "AccountRecord",
    "ConnectionPublic",
    "FeatureFlag",
    "LockInfo",
    "LockLostError",
    "RunRecord",
    "SecretBox",
    "Store",
    "SubtaskRecord",
    "UserRecord",
    "load_or_create_key",
    "make_engine",
    "upgrade",
]
