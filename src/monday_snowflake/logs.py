"""Structured logging: human-readable lines by default, one JSON object per line with `log_json`.

A correlation id is bound per run (and later per request) with `bind_correlation_id`, and every
line logged inside that context carries it. Secrets never reach a log line: values whose key
looks like a credential are masked before rendering.
"""

from __future__ import annotations

import logging
import sys
import uuid
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import structlog

_SECRET_KEYS = ("token", "password", "secret", "passphrase", "private_key", "authorization", "api_key")


def _mask_secrets(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        if any(marker in key.lower() for marker in _SECRET_KEYS):
            event[key] = "***"
    return event


def configure_logging(*, json: bool = False, level: str = "INFO") -> None:
    """Send structlog's and the standard library's log lines through one renderer on stderr, so retry
    and library lines carry the same timestamp, level and correlation id, in JSON when asked."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _mask_secrets,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(numeric)
    for noisy in ("snowflake.connector", "fakesnow", "httpx", "httpcore", "uvicorn", "urllib3", "botocore"):
        logging.getLogger(noisy).setLevel(max(numeric, logging.WARNING))


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)


def new_correlation_id() -> str:
    return uuid.uuid4().hex[:16]


@contextmanager
def bind_correlation_id(correlation_id: str | None = None, **extra: Any) -> Iterator[str]:
    """Attach a correlation id (and any extra fields) to every log line in this context. Without one,
    the id already bound (a task's, say) carries on, so a run started by a task shares its id."""
    bound = structlog.contextvars.get_contextvars().get("correlation_id")
    cid = correlation_id or (bound if isinstance(bound, str) and bound else None) or new_correlation_id()
    with structlog.contextvars.bound_contextvars(correlation_id=cid, **extra):
        yield cid
