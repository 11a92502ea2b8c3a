"""The seam the embedded warehouse's test knobs share: an ASGI wrapper of fakesnow's HTTP server that
reads one kind of request (a login, a query), and either answers it with Snowflake's own error or
passes it on untouched. Its rules live in a file in the warehouse directory, so every process sharing
the data directory sees the same ones; the file is re-read only when it changes.
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any, Generic, TypeVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

Rules = TypeVar("Rules")


def snowflake_error(code: str, message: str, data: dict[str, Any] | None = None) -> bytes:
    """A body as Snowflake answers a refused request: HTTP 200, `success: false`, its code and message."""
    return json.dumps({"data": data, "code": code, "message": message, "success": False}).encode()


class Interceptor(Generic[Rules]):
    """Answers requests to `path` for which `answer` returns a body; the rest reach `app` as sent."""

    path: str

    def __init__(self, app: ASGIApp, rules_path: Path) -> None:
        self.app = app
        self.rules_path = rules_path
        self._cache: tuple[tuple[int, int], Rules | None] = ((-1, -1), None)

    def read_rules(self, path: Path) -> Rules:
        raise NotImplementedError

    def answer(self, headers: dict[str, str], request: dict[str, Any], rules: Rules) -> bytes | None:
        """The error body for this request, or None to let it through."""
        raise NotImplementedError

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or not (rules := self._rules()):
            await self.app(scope, receive, send)
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = bool(message.get("more_body"))
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        request = _json(body, gzipped=headers.get("content-encoding") == "gzip")
        answer = self.answer(headers, request, rules) if request is not None else None
        if answer is not None:
            start = {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
            await send(start)
            await send({"type": "http.response.body", "body": answer})
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    def _rules(self) -> Rules | None:
        try:
            stat = os.stat(self.rules_path)
        except OSError:
            return None
        if (stat.st_mtime_ns, stat.st_size) != self._cache[0]:
            self._cache = ((stat.st_mtime_ns, stat.st_size), self.read_rules(self.rules_path))
        return self._cache[1]


def _json(body: bytes, *, gzipped: bool) -> dict[str, Any] | None:
    try:
        decoded = json.loads(gzip.decompress(body) if gzipped else body)
    except (OSError, ValueError):
        return None
    return decoded if isinstance(decoded, dict) else None
