"""Telling people: alert emails through an outbox (`email`), and what a permanent failure or an
expiring credential turns into (`alerts`)."""

from monday_snowflake.notify.alerts import Alerter
from monday_snowflake.notify.email import Mailer, redact

__all__ = ["Alerter", "Mailer", "redact"]
