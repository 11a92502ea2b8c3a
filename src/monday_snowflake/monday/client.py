"""Async client for monday.com's GraphQL API: boards, paged items, items by id, classified errors, retries.

Every request asks for `complexity`; the client pauses only when the remaining budget would not cover
another query like the last one. Transient errors are retried per `RetryPolicy`; expired cursors restart
paging from the first page without yielding any item twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random as _random
import time
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from functools import lru_cache
from types import TracebackType
from typing import Any, Self

import graphql
import httpx
import orjson

from monday_snowflake.errors import AuthenticationError, CursorExpiredError, NotFoundError, TransientError
from monday_snowflake.metrics import MONDAY_ERRORS, MONDAY_REQUESTS, count_error
from monday_snowflake.model.board import BoardSpec, ColumnSpec
from monday_snowflake.monday import queries
from monday_snowflake.monday.classify import classify_response, classify_transport_error, field_errors
from monday_snowflake.monday.queries import Shape
from monday_snowflake.retry import RetryPolicy, run_with_retry
from monday_snowflake.settings import MondaySettings

log = logging.getLogger(__name__)

ITEMS_BY_ID_CHUNK = 100
"""monday's `items(ids:)` takes at most 100 ids per call."""
MAX_CURSOR_RESTARTS = 3
"""How many times one board read may start over after its cursor expired."""

Page = list[dict[str, Any]]


class MondayClient:
    """One token's connection to monday.com. Use as `async with MondayClient(...) as client:`."""

    def __init__(
        self,
        settings: MondaySettings,
        token: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        random: Callable[[], float] = _random.random,
        clock: Callable[[], float] = time.monotonic,
        renew_token: Callable[[], Awaitable[str]] | None = None,
    ) -> None:
        self._settings = settings
        self._token = token
        self._renew_token = renew_token
        """Asked for a new token when monday refuses this one (an OAuth 2.1 token that expired during a
        long run); the request is then sent once more with it."""
        self._sleep = sleep
        self._random = random
        self._clock = clock
        self._policy = RetryPolicy(
            max_attempts=settings.max_attempts,
            base=settings.backoff_base_seconds,
            max=settings.backoff_max_seconds,
        )
        self._resume_at: float | None = None
        self.last_complexity: dict[str, Any] | None = None
        """The `complexity` of the latest response: what its query cost and what budget is left."""
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=settings.timeout_seconds,
            headers={
                "Authorization": token,
                "API-Version": settings.api_version,
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
        )

    def __repr__(self) -> str:
        return f"MondayClient(api_url={self._settings.api_url!r}, api_version={self._settings.api_version!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- transport -----------------------------------------------------------------------------------

    async def execute(
        self, query: str, variables: dict[str, Any] | None = None, *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """Run one GraphQL document and return its `data`, retrying transient failures.

        Mutations carry an `Idempotency-Key` (the one given, or a fresh uuid4) that stays the same
        across the retries of this call, so monday replays rather than repeats them.
        """
        headers: dict[str, str] = {}
        if _is_mutation(query):
            headers["Idempotency-Key"] = idempotency_key or str(uuid.uuid4())
        payload: dict[str, Any] = {"query": query}
        if variables is not None:
            payload["variables"] = variables
        return await run_with_retry(
            self._policy,
            lambda: self._send(payload, headers),
            sleep=self._sleep,
            random=self._random,
            should_retry=_is_retryable,
            describe=f"monday {_operation_name(query)}",
        )

    async def mutate_each(
        self, document: str, variables: dict[str, Any], *, idempotency_key: str
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """Run a document of aliased mutations; returns `data` and `{alias: message}` for the aliases
        monday refused on their own (a bad value, an unknown user), which fail only themselves.
        Anything that fails the whole request is retried or raised as `execute` does, under the same
        Idempotency-Key, so a retried batch is replayed, never applied twice."""
        rejected: dict[str, str] = {}
        payload: dict[str, Any] = {"query": document, "variables": variables}
        headers = {"Idempotency-Key": idempotency_key}

        async def send() -> dict[str, Any]:
            rejected.clear()
            return await self._send(payload, headers, rejected=rejected)

        data = await run_with_retry(
            self._policy,
            send,
            sleep=self._sleep,
            random=self._random,
            should_retry=_is_retryable,
            describe=f"monday {_operation_name(document)}",
        )
        return data, dict(rejected)

    async def _send(
        self,
        payload: dict[str, Any],
        headers: dict[str, str],
        *,
        rejected: dict[str, str] | None = None,
        renewed: bool = False,
    ) -> dict[str, Any]:
        await self._wait_for_complexity_budget()
        MONDAY_REQUESTS.inc()
        try:
            async with self._http.stream(
                "POST", self._settings.api_url, json=payload, headers=headers
            ) as response:
                content = await _read_body(response)
        except httpx.TransportError as exc:
            transport_error = classify_transport_error(exc)
            count_error(MONDAY_ERRORS, transport_error)
            raise transport_error from exc
        try:
            body: Any = orjson.loads(content)
        except ValueError:
            body = None
        del content  # a page's raw body is as big as a third of its parsed items: not kept past here
        per_alias = None
        if rejected is not None:
            per_alias = field_errors(response.status_code, body, secrets=(self._token,))
        if per_alias:
            assert rejected is not None
            rejected.update(per_alias)
            error = None
        else:
            error = classify_response(response.status_code, body, response.headers, secrets=(self._token,))
        data = body.get("data") if isinstance(body, dict) else None
        if error is None and not isinstance(data, dict):
            error = TransientError(
                "monday API answered without data",
                status=response.status_code,
                request_id=response.headers.get("x-request-id"),
            )
        if error is not None:
            count_error(MONDAY_ERRORS, error)
            if isinstance(error, AuthenticationError) and self._renew_token is not None and not renewed:
                token = await self._renew_token()
                if token != self._token:
                    self._token = token
                    self._http.headers["Authorization"] = token
                    return await self._send(payload, headers, rejected=rejected, renewed=True)
            raise error
        assert isinstance(data, dict)
        self._note_complexity(data.get("complexity"))
        return data

    async def _wait_for_complexity_budget(self) -> None:
        if self._resume_at is None:
            return
        wait = self._resume_at - self._clock()
        self._resume_at = None
        if wait > 0:
            log.info("monday complexity budget nearly spent; waiting %.1fs for it to reset", wait)
            await self._sleep(wait)

    def _note_complexity(self, complexity: Any) -> None:
        """Schedule a pause if the budget left cannot pay for another query as costly as this one."""
        if not isinstance(complexity, dict):
            return
        self.last_complexity = complexity
        after, cost, reset = (complexity.get(k) for k in ("after", "query", "reset_in_x_seconds"))
        if isinstance(after, int | float) and isinstance(cost, int | float) and after < cost:
            self._resume_at = self._clock() + float(reset if isinstance(reset, int | float) else 0)

    # -- reads ---------------------------------------------------------------------------------------

    async def get_board(self, board_id: str) -> BoardSpec:
        """A board's name, type, item count and columns; `subitems_board_id` from its subtasks column."""
        data = await self.execute(queries.BOARD_QUERY, {"boardId": str(board_id)})
        board = _only_board(data, board_id)
        columns = tuple(
            ColumnSpec(
                id=str(col["id"]),
                title=str(col.get("title") or ""),
                type=str(col.get("type") or ""),
                settings=_column_settings(col.get("settings"), board_id, col.get("id")),
            )
            for col in board.get("columns") or []
            if isinstance(col, dict) and col.get("id") is not None
        )
        items_count = board.get("items_count")
        return BoardSpec(
            id=str(board.get("id") or board_id),
            name=str(board.get("name") or ""),
            columns=columns,
            type=str(board.get("type") or "board"),
            subitems_board_id=_subitems_board_id(columns),
            items_count=int(items_count) if items_count is not None else None,
        )

    async def iter_item_pages(
        self,
        board_id: str,
        *,
        column_ids: Sequence[str] | None = None,
        query_params: dict[str, Any] | None = None,
        shape: Shape = Shape.ITEMS,
        subitem_column_ids: Sequence[str] | None = None,
        page_size: int | None = None,
        skip_seen: bool = True,
    ) -> AsyncGenerator[Page, None]:
        """Yield a board's active items page by page (`items_page`, then root `next_items_page`).

        The next page is requested as soon as one arrives, before it is handed over, so the network
        overlaps the caller's work. The pager lets go of each page once the caller asks for the next,
        so a caller that drops its own reference first (`del page` at the end of its loop) holds one
        page at a time, not two, while the next is parsed. If the cursor expires, paging
        restarts from the first page and items already yielded are skipped (`skip_seen`; a caller that
        de-duplicates downstream passes False and memory stays flat however big the board). Stopping
        early? Call `aclose()` on the generator (or use `contextlib.aclosing`) so the prefetch is
        cancelled promptly.
        """
        limit = page_size or self._settings.page_size
        common: dict[str, Any] = {"limit": limit}
        if column_ids is not None and shape.reads_columns:
            common["columnIds"] = [str(c) for c in column_ids]
        if subitem_column_ids is not None and shape is Shape.WITH_SUBITEMS:
            common["subitemColumnIds"] = [str(c) for c in subitem_column_ids]
        first_vars = {**common, "boardId": str(board_id)}
        if query_params is not None:
            first_vars["queryParams"] = query_params

        async def first_page() -> tuple[Page, str | None]:
            data = await self.execute(queries.ITEMS_PAGE[shape], first_vars)
            return _page(_only_board(data, board_id).get("items_page"))

        async def next_page(cursor: str) -> tuple[Page, str | None]:
            data = await self.execute(queries.NEXT_ITEMS_PAGE[shape], {**common, "cursor": cursor})
            return _page(data.get("next_items_page"))

        yielded: set[str] = set()
        restarts = 0
        pending: asyncio.Task[tuple[Page, str | None]] | None = asyncio.create_task(first_page())
        try:
            while pending is not None:
                try:
                    items, cursor = await pending
                except CursorExpiredError as exc:
                    restarts += 1
                    if restarts > MAX_CURSOR_RESTARTS:
                        exc.details["board_id"] = str(board_id)
                        raise
                    log.warning(
                        "monday cursor expired on board %s; paging restarts from the first page (%d of %d)",
                        board_id,
                        restarts,
                        MAX_CURSOR_RESTARTS,
                    )
                    pending = asyncio.create_task(first_page())
                    continue
                pending = asyncio.create_task(next_page(cursor)) if cursor else None
                if skip_seen:
                    items = [item for item in items if str(item.get("id")) not in yielded]
                    yielded.update(str(item.get("id")) for item in items)
                if items:
                    yield items
                # the caller is done with this page: hold no reference to it while the next is parsed
                del items
            # The loop's callback that resumed this step still refers to the last page's task (and so to
            # the page) until the step ends: end it here, or the page outlives the read into the caller's
            # next step (a full run's first staged-file upload).
            await asyncio.sleep(0)
        finally:
            if pending is not None:
                await _discard(pending)

    async def get_items(
        self, ids: Sequence[str], *, column_ids: Sequence[str] | None = None, shape: Shape = Shape.ITEMS
    ) -> list[dict[str, Any]]:
        """Items by id, including archived and deleted ones, fetched 100 ids per request."""
        unique = list(dict.fromkeys(str(i) for i in ids))
        found: list[dict[str, Any]] = []
        for start in range(0, len(unique), ITEMS_BY_ID_CHUNK):
            chunk = unique[start : start + ITEMS_BY_ID_CHUNK]
            variables: dict[str, Any] = {"ids": chunk, "limit": len(chunk)}
            if column_ids is not None and shape.reads_columns:
                variables["columnIds"] = [str(c) for c in column_ids]
            data = await self.execute(queries.ITEMS_BY_ID[shape], variables)
            found.extend(item for item in data.get("items") or [] if isinstance(item, dict))
        return found

    async def change_column_values(
        self, board_id: str, changes: Mapping[str, Mapping[str, Any]], *, per_request: int = 25
    ) -> None:
        """Write `{item id: {column id: value}}` on one board, `per_request` items per request."""
        pending = list(changes.items())
        for start in range(0, len(pending), per_request):
            chunk = pending[start : start + per_request]
            variables: dict[str, Any] = {"boardId": str(board_id)}
            for n, (item_id, values) in enumerate(chunk):
                variables[f"i{n}"] = str(item_id)
                variables[f"v{n}"] = orjson.dumps(dict(values)).decode()
            await self.execute(_change_column_values(len(chunk)), variables)

    async def create_webhook(self, board_id: str, url: str, event: str) -> str:
        """Subscribe `url` to `event` on the board (subitem events too: monday wants the main board);
        monday checks the URL with a challenge first. Returns the webhook's id."""
        variables = {"boardId": str(board_id), "url": url, "event": event}
        data = await self.execute(queries.CREATE_WEBHOOK, variables)
        created = data.get("create_webhook")
        if not isinstance(created, dict) or created.get("id") is None:
            raise TransientError("monday answered create_webhook without a webhook", event=event)
        return str(created["id"])

    async def delete_webhook(self, webhook_id: str) -> None:
        """Remove a webhook; one that is gone already counts as removed."""
        try:
            await self.execute(queries.DELETE_WEBHOOK, {"id": str(webhook_id)})
        except NotFoundError:
            log.info("webhook %s was already gone", webhook_id)


@lru_cache(maxsize=32)
def _change_column_values(count: int) -> str:
    return queries.change_column_values_mutation(count)


def _is_retryable(error: BaseException) -> bool:
    # An expired cursor stays expired: the pager restarts instead.
    return isinstance(error, TransientError) and not isinstance(error, CursorExpiredError)


@lru_cache(maxsize=256)
def _parsed(query: str) -> graphql.DocumentNode | None:
    try:
        return graphql.parse(query, no_location=True)
    except graphql.GraphQLError:
        return None


def _is_mutation(query: str) -> bool:
    document = _parsed(query)
    if document is None:
        return query.lstrip().startswith("mutation")
    return any(
        isinstance(d, graphql.OperationDefinitionNode) and d.operation is graphql.OperationType.MUTATION
        for d in document.definitions
    )


def _operation_name(query: str) -> str:
    document = _parsed(query)
    if document is not None:
        for d in document.definitions:
            if isinstance(d, graphql.OperationDefinitionNode):
                return d.name.value if d.name else d.operation.value
    return "request"


def _only_board(data: dict[str, Any], board_id: str) -> dict[str, Any]:
    boards = data.get("boards")
    board = boards[0] if isinstance(boards, list) and boards else None
    if not isinstance(board, dict):
        raise NotFoundError(
            f"board {board_id} not found or not accessible with this token", board_id=str(board_id)
        )
    return board


def _page(page: Any) -> tuple[Page, str | None]:
    if not isinstance(page, dict) or not isinstance(page.get("items"), list):
        raise TransientError("monday API returned an items page without items")
    cursor = page.get("cursor")
    return [i for i in page["items"] if isinstance(i, dict)], str(cursor) if cursor else None


def _column_settings(raw: Any, board_id: str, column_id: Any) -> dict[str, Any]:
    """`Column.settings` is JSON: some servers send it as an object, others as a JSON string."""
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            log.warning("board %s column %s: settings are not valid JSON; ignored", board_id, column_id)
            return {}
    return raw if isinstance(raw, dict) else {}


def _subitems_board_id(columns: Sequence[ColumnSpec]) -> str | None:
    for column in columns:
        if column.type == "subtasks":
            board_ids = column.settings.get("boardIds")
            if isinstance(board_ids, list) and board_ids and board_ids[0] is not None:
                return str(board_ids[0])
    return None


async def _read_body(response: httpx.Response) -> bytearray:
    """The whole (decoded) body of a streamed response, held only by the caller.

    httpx keeps a body read with `aread()` on the response, and a response is freed only by the
    cycle collector (its stream refers back to it), so each page's raw bytes would linger for a
    while after being parsed. Read this way they go as soon as the caller drops them; growing one
    bytearray also avoids holding the chunks and their joined copy at the same time."""
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
    return body


async def _discard(task: asyncio.Task[Any]) -> None:
    """Cancel a prefetch nobody will read, and consume its outcome so asyncio does not warn about it."""
    if not task.done():
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
