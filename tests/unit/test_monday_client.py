"""MondayClient over httpx.MockTransport: retries, paging, cursor recovery, complexity, prefetch, boards."""

from __future__ import annotations

import asyncio
import gc
import json
import re
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any

import httpx
import pytest

from monday_snowflake.errors import (
    AuthenticationError,
    ConfigurationError,
    CursorExpiredError,
    InvalidDataError,
    MondaySnowflakeError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    TransientError,
)
from monday_snowflake.monday.client import MAX_CURSOR_RESTARTS, MondayClient
from monday_snowflake.monday.queries import Shape
from monday_snowflake.retry import RetryPolicy
from monday_snowflake.settings import MondaySettings

TOKEN = "tok-very-secret-123"
Handler = Callable[[httpx.Request], Coroutine[None, None, httpx.Response]]


class Sleeps:
    """A fake `sleep` that records delays (and into a shared event log, if given) without waiting."""

    def __init__(self, events: list[str] | None = None) -> None:
        self.delays: list[float] = []
        self.events = events

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        if self.events is not None:
            self.events.append(f"sleep {seconds:g}")


def make_client(
    handler: Handler,
    *,
    sleeps: Sleeps | None = None,
    random: Callable[[], float] = lambda: 0.5,
    **settings: Any,
) -> tuple[MondayClient, Sleeps]:
    sleeps = sleeps or Sleeps()
    client = MondayClient(
        MondaySettings(api_url="https://monday.test/v2", **settings),
        TOKEN,
        transport=httpx.MockTransport(handler),
        sleep=sleeps,
        random=random,
        clock=lambda: 1000.0,
    )
    return client, sleeps


def body_of(request: httpx.Request) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(request.content)
    return parsed


def operation(request: httpx.Request) -> str:
    found = re.search(r"(query|mutation)\s+(\w+)", body_of(request)["query"])
    return found.group(2) if found else "?"


def ok(data: dict[str, Any], **kwargs: Any) -> httpx.Response:
    return httpx.Response(200, json={"data": data}, **kwargs)


def scripted(*responses: httpx.Response | Exception) -> tuple[Handler, list[httpx.Request]]:
    """A handler answering with `responses` in order, recording each request."""
    seen: list[httpx.Request] = []
    queue: Iterator[httpx.Response | Exception] = iter(responses)

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = next(queue)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler, seen


SERVER_ERROR = httpx.Response(500, json={"error_message": "Internal server error", "status_code": 500})


class FakeBoard:
    """A monday board behind items_page / next_items_page, with cursors that can be made to expire."""

    def __init__(self, n_items: int, *, board_id: str = "42") -> None:
        self.board_id = board_id
        self.items = [{"id": str(1000 + i), "name": f"item {i}"} for i in range(n_items)]
        self.requests: list[dict[str, Any]] = []
        self.expire: set[int] = set()  # page numbers whose cursor expires (once each)
        self.always_expire = False
        self.complexity: Callable[[int], dict[str, int]] | None = None
        self.events: list[str] = []
        self.on_request: Callable[[str, dict[str, Any]], Awaitable[None]] | None = None

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        body = body_of(request)
        op, variables = operation(request), body.get("variables", {})
        self.requests.append({"op": op, **variables})
        self.events.append(f"{op} {variables.get('cursor', '')}".strip())
        if self.on_request is not None:
            await self.on_request(op, variables)
        limit = variables["limit"]
        if op == "ItemsPage":
            if variables["boardId"] != self.board_id:
                return ok({"boards": []})
            start = 0
        else:
            page_no = int(variables["cursor"].split(":")[1])
            if self.always_expire or page_no in self.expire:
                self.expire.discard(page_no)
                return httpx.Response(
                    200,
                    json={
                        "errors": [
                            {"message": "cursor has expired", "extensions": {"code": "CursorExpiredError"}}
                        ]
                    },
                )
            start = page_no * limit
        chunk = self.items[start : start + limit]
        page_no = start // limit
        cursor = f"c:{page_no + 1}" if start + limit < len(self.items) else None
        page = {"cursor": cursor, "items": chunk}
        data: dict[str, Any] = (
            {"boards": [{"items_page": page}]} if op == "ItemsPage" else {"next_items_page": page}
        )
        if self.complexity is not None:
            data["complexity"] = self.complexity(len(self.requests))
        return ok(data)


async def collect(pages: Any) -> list[list[str]]:
    return [[item["id"] for item in page] async for page in pages]


# -- execute: headers, retries, classification ------------------------------------------------------


async def test_execute_sends_token_version_and_json_and_returns_data() -> None:
    handler, seen = scripted(ok({"me": {"id": "1"}}))
    client, _ = make_client(handler)
    async with client:
        data = await client.execute("query { me { id } }", {"a": 1})
    assert data == {"me": {"id": "1"}}
    request = seen[0]
    assert request.headers["Authorization"] == TOKEN
    assert request.headers["API-Version"] == "2026-10"
    assert request.headers["Content-Type"] == "application/json"
    assert "Idempotency-Key" not in request.headers
    assert body_of(request) == {"query": "query { me { id } }", "variables": {"a": 1}}
    assert TOKEN not in repr(client)


async def test_mutation_reuses_one_idempotency_key_across_retries() -> None:
    handler, seen = scripted(SERVER_ERROR, ok({"create_item": {"id": "9"}}))
    client, _ = make_client(handler)
    async with client:
        await client.execute('mutation { create_item(board_id: 1, item_name: "x") { id } }')
    keys = [r.headers["Idempotency-Key"] for r in seen]
    assert len(keys) == 2 and keys[0] == keys[1]
    uuid.UUID(keys[0])


async def test_mutation_uses_the_given_idempotency_key_and_each_call_gets_its_own() -> None:
    handler, seen = scripted(ok({}), ok({}), ok({}))
    client, _ = make_client(handler)
    async with client:
        await client.execute("mutation M { delete_item(item_id: 1) { id } }", idempotency_key="k-1")
        await client.execute("mutation M { delete_item(item_id: 1) { id } }")
        await client.execute("mutation M { delete_item(item_id: 1) { id } }")
    keys = [r.headers["Idempotency-Key"] for r in seen]
    assert keys[0] == "k-1"
    assert keys[1] != keys[2]


async def test_transient_errors_are_retried_then_succeed() -> None:
    handler, seen = scripted(SERVER_ERROR, httpx.ConnectError("refused"), ok({"me": None}))
    client, sleeps = make_client(handler)
    async with client:
        assert await client.execute("query { me { id } }") == {"me": None}
    assert len(seen) == 3
    assert len(sleeps.delays) == 2


async def test_retry_after_header_is_honoured() -> None:
    limited = httpx.Response(
        429, headers={"Retry-After": "7"}, json={"errors": [{"message": "Rate Limit Exceeded"}]}
    )
    handler, _ = scripted(limited, ok({}))
    client, sleeps = make_client(handler)
    async with client:
        await client.execute("query { me { id } }")
    assert sleeps.delays == [7.0]


@pytest.mark.parametrize(
    ("body", "wait"),
    [
        (
            {
                "errors": [
                    {
                        "message": "Complexity budget exhausted",
                        "extensions": {"code": "COMPLEXITY_BUDGET_EXHAUSTED", "retry_in_seconds": 31},
                    }
                ]
            },
            31.0,
        ),
        (
            {
                "error_message": "Concurrency limit exceeded for the field",
                "error_code": "FIELD_LIMIT_EXCEEDED",
                "error_data": {"retry_in_seconds": 15, "entity": "boards"},
                "status_code": 429,
            },
            15.0,
        ),
        (
            {
                "error_code": "ComplexityException",
                "status_code": 429,
                "error_message": "Complexity budget exhausted, query cost 30001 budget remaining 19986 "
                "out of 1000000 reset in 3 seconds",
                "error_data": {},
            },
            3.0,
        ),
    ],
    ids=["extensions.retry_in_seconds", "legacy error_data.retry_in_seconds", "reset in N seconds text"],
)
async def test_server_requested_wait_is_honoured(body: dict[str, Any], wait: float) -> None:
    handler, _ = scripted(httpx.Response(200, json=body), ok({}))
    client, sleeps = make_client(handler)
    async with client:
        await client.execute("query { me { id } }")
    assert sleeps.delays == [wait]


async def test_backoff_doubles_and_stays_within_full_jitter_bounds() -> None:
    handler, _ = scripted(*[SERVER_ERROR] * 6)
    client, sleeps = make_client(
        handler, random=lambda: 1.0, max_attempts=6, backoff_base_seconds=0.5, backoff_max_seconds=5.0
    )
    async with client:
        with pytest.raises(TransientError):
            await client.execute("query { me { id } }")
    assert sleeps.delays == [0.5, 1.0, 2.0, 4.0, 5.0]  # random()=1 is the top of each jitter window

    draws = iter([0.1, 0.9, 0.3])
    policy = RetryPolicy(max_attempts=6, base=0.5, max=5.0)
    jittered = [policy.delay(attempt, random=lambda: next(draws)) for attempt in (1, 2, 3)]
    assert jittered == pytest.approx([0.05, 0.9, 0.6])
    assert all(0 <= policy.delay(a) <= min(5.0, 0.5 * 2 ** (a - 1)) for a in range(1, 40))


async def test_gives_up_after_max_attempts_with_the_classified_error() -> None:
    handler, seen = scripted(*[SERVER_ERROR] * 3)
    client, sleeps = make_client(handler, max_attempts=3)
    async with client:
        with pytest.raises(TransientError) as caught:
            await client.execute("query { me { id } }")
    assert len(seen) == 3 and len(sleeps.delays) == 2
    assert caught.value.details["attempts"] == 3
    assert caught.value.details["status"] == 500


async def test_timeouts_are_retried_and_keep_the_original_as_cause() -> None:
    handler, seen = scripted(*[httpx.ReadTimeout("slow")] * 2)
    client, _ = make_client(handler, max_attempts=2)
    async with client:
        with pytest.raises(TransientError) as caught:
            await client.execute("query { me { id } }")
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)
    assert len(seen) == 2


async def test_wait_longer_than_the_policy_maximum_is_not_slept_in_process() -> None:
    daily = httpx.Response(
        429,
        json={
            "errors": [
                {
                    "message": "Daily limit exceeded",
                    "extensions": {"code": "DAILY_LIMIT_EXCEEDED", "retry_in_seconds": 7200},
                }
            ]
        },
    )
    handler, seen = scripted(daily)
    client, sleeps = make_client(handler)
    async with client:
        with pytest.raises(RateLimitedError) as caught:
            await client.execute("query { me { id } }")
    assert caught.value.retry_after == 7200
    assert sleeps.delays == [] and len(seen) == 1


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (httpx.Response(401, json={"errors": [{"message": "Unauthorized"}]}), AuthenticationError),
        (
            httpx.Response(403, json={"error_code": "UserUnauthorizedException", "status_code": 403}),
            PermissionDeniedError,
        ),
        (
            httpx.Response(
                200, json={"errors": [{"message": "bad", "extensions": {"code": "ColumnValueException"}}]}
            ),
            InvalidDataError,
        ),
        (
            httpx.Response(
                200, json={"errors": [{"message": "v", "extensions": {"code": "InvalidVersionException"}}]}
            ),
            ConfigurationError,
        ),
        (
            httpx.Response(
                200,
                json={"errors": [{"message": "gone", "extensions": {"code": "ResourceNotFoundException"}}]},
            ),
            NotFoundError,
        ),
    ],
    ids=["auth", "permission", "invalid-data", "configuration", "not-found"],
)
async def test_permanent_errors_are_not_retried(response: httpx.Response, expected: type[Exception]) -> None:
    handler, seen = scripted(response, ok({}))
    client, sleeps = make_client(handler)
    async with client:
        with pytest.raises(expected):
            await client.execute("query { me { id } }")
    assert len(seen) == 1 and sleeps.delays == []


async def test_http_200_with_errors_and_partial_data_is_an_error() -> None:
    partial = httpx.Response(
        200,
        json={
            "data": {"me": {"id": "1"}},
            "errors": [
                {
                    "message": "User unauthorized to perform action",
                    "path": ["account"],
                    "extensions": {"code": "UserUnauthorizedException", "request_id": "req-77"},
                }
            ],
        },
    )
    handler, _ = scripted(partial)
    client, _ = make_client(handler)
    async with client:
        with pytest.raises(PermissionDeniedError) as caught:
            await client.execute("query { me { id } account { id } }")
    assert caught.value.details["request_id"] == "req-77"


async def test_token_never_appears_in_errors_even_if_echoed() -> None:
    echo = httpx.Response(
        200,
        json={
            "errors": [
                {"message": f"token {TOKEN} is odd", "extensions": {"code": "InvalidArgumentException"}}
            ]
        },
    )
    handler, _ = scripted(echo)
    client, _ = make_client(handler)
    async with client:
        with pytest.raises(MondaySnowflakeError) as caught:
            await client.execute("query { me { id } }")
    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(caught.value.details)


# -- pagination ---------------------------------------------------------------------------------------


async def test_pages_follow_next_items_page_until_the_cursor_is_null() -> None:
    board = FakeBoard(5)
    client, _ = make_client(board)
    async with client:
        pages = await collect(
            client.iter_item_pages(
                "42", column_ids=["status", "date4"], query_params={"rules": []}, page_size=2
            )
        )
    assert pages == [["1000", "1001"], ["1002", "1003"], ["1004"]]
    ops = [r["op"] for r in board.requests]
    assert ops == ["ItemsPage", "NextItemsPage", "NextItemsPage"]
    first, second, third = board.requests
    assert first["boardId"] == "42" and first["queryParams"] == {"rules": []} and first["limit"] == 2
    assert first["columnIds"] == ["status", "date4"]
    assert (
        second["cursor"] == "c:1"
        and "queryParams" not in second
        and second["columnIds"] == ["status", "date4"]
    )
    assert third["cursor"] == "c:2"


async def test_default_page_size_is_500_and_optional_variables_are_omitted() -> None:
    board = FakeBoard(3)
    client, _ = make_client(board)
    async with client:
        await collect(client.iter_item_pages("42"))
    assert board.requests == [{"op": "ItemsPage", "boardId": "42", "limit": 500}]


async def test_subitems_are_requested_only_when_asked() -> None:
    queries: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        queries.append(body_of(request)["query"])
        return ok({"boards": [{"items_page": {"cursor": None, "items": []}}]})

    client, _ = make_client(handler)
    async with client:
        await collect(client.iter_item_pages("1"))
        await collect(client.iter_item_pages("1", shape=Shape.WITH_SUBITEMS))
    assert "subitems" not in queries[0]
    assert "subitems { ...SubitemFields }" in queries[1]


async def test_expired_cursor_restarts_without_losing_or_duplicating_items() -> None:
    board = FakeBoard(9)
    board.expire = {3}  # the cursor for the 4th page expires once, after three pages were yielded
    client, _ = make_client(board)
    async with client:
        pages = await collect(client.iter_item_pages("42", page_size=2))
    ids = [i for page in pages for i in page]
    assert ids == [item["id"] for item in board.items]
    assert [r["op"] for r in board.requests].count("ItemsPage") == 2


async def test_expired_cursor_matched_by_message_text_alone() -> None:
    board = FakeBoard(4)
    calls = {"n": 0}

    async def handler(request: httpx.Request) -> httpx.Response:
        if operation(request) == "NextItemsPage" and calls["n"] == 0:
            calls["n"] += 1
            return httpx.Response(200, json={"errors": [{"message": "The cursor has expired"}]})
        return await board(request)

    client, _ = make_client(handler)
    async with client:
        ids = [i for page in await collect(client.iter_item_pages("42", page_size=2)) for i in page]
    assert ids == ["1000", "1001", "1002", "1003"]


async def test_cursor_restarts_are_capped() -> None:
    board = FakeBoard(5)
    board.always_expire = True
    client, sleeps = make_client(board)
    async with client:
        with pytest.raises(CursorExpiredError) as caught:
            await collect(client.iter_item_pages("42", page_size=2))
    assert [r["op"] for r in board.requests].count("ItemsPage") == MAX_CURSOR_RESTARTS + 1
    assert caught.value.details["board_id"] == "42"
    assert sleeps.delays == []  # an expired cursor is not retried as such


async def test_unknown_board_while_paging_is_not_found() -> None:
    client, _ = make_client(FakeBoard(3))
    async with client:
        with pytest.raises(NotFoundError, match="board 999 not found"):
            await collect(client.iter_item_pages("999"))


# -- complexity ---------------------------------------------------------------------------------------


async def test_complexity_waits_only_when_the_next_query_would_exhaust_the_budget() -> None:
    board = FakeBoard(8)
    budgets = {1: 10_000, 2: 5_000, 3: 900, 4: 9_000}  # remaining after each request; each costs 1000

    def complexity(n: int) -> dict[str, int]:
        return {"before": budgets[n] + 1000, "after": budgets[n], "query": 1000, "reset_in_x_seconds": 23}

    board.complexity = complexity
    sleeps = Sleeps(board.events)
    client, _ = make_client(board, sleeps=sleeps)
    async with client:
        await collect(client.iter_item_pages("42", page_size=2))
    assert sleeps.delays == [23.0]
    assert board.events == [
        "ItemsPage",
        "NextItemsPage c:1",
        "NextItemsPage c:2",
        "sleep 23",
        "NextItemsPage c:3",
    ]


# -- prefetch -----------------------------------------------------------------------------------------


async def test_next_page_is_requested_while_the_caller_still_holds_the_current_one() -> None:
    board = FakeBoard(6)
    second_requested = asyncio.Event()

    async def on_request(op: str, variables: dict[str, Any]) -> None:
        if variables.get("cursor") == "c:1":
            second_requested.set()

    board.on_request = on_request
    client, _ = make_client(board)
    async with client:
        pages = client.iter_item_pages("42", page_size=2)
        first = await anext(pages)
        assert [i["id"] for i in first] == ["1000", "1001"]
        # The consumer is still "processing" page 1; page 2 must already be on the wire.
        await asyncio.wait_for(second_requested.wait(), timeout=1.0)
        for _ in range(5):
            await asyncio.sleep(0)
        assert len(board.requests) == 2  # one page ahead, not more
        rest = [[i["id"] for i in page] async for page in pages]
    assert rest == [["1002", "1003"], ["1004", "1005"]]


async def test_stopping_early_cancels_the_prefetch_cleanly() -> None:
    board = FakeBoard(10)
    gate = asyncio.Event()

    async def on_request(op: str, variables: dict[str, Any]) -> None:
        if op == "NextItemsPage":
            await gate.wait()  # the prefetch hangs until cancelled

    board.on_request = on_request
    client, _ = make_client(board)
    async with client:
        pages = client.iter_item_pages("42", page_size=2)
        async for _page in pages:
            for _ in range(5):
                await asyncio.sleep(0)  # let the prefetch reach the (hanging) server
            break
        await pages.aclose()
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert pending == []
    assert len(board.requests) == 2


# -- boards and items by id ----------------------------------------------------------------------------


async def test_get_board_parses_columns_settings_and_subitems_board() -> None:
    board = {
        "id": "42",
        "name": "Roadmap",
        "type": "board",
        "items_count": 17,
        "columns": [
            {"id": "name", "title": "Name", "type": "name", "settings": None},
            {
                "id": "status",
                "title": "Status",
                "type": "status",
                "settings": json.dumps({"labels": {"1": "Done"}}),
            },
            {
                "id": "subitems",
                "title": "Subitems",
                "type": "subtasks",
                "settings": {"allowMultipleItems": True, "boardIds": [987654]},
            },
        ],
    }
    handler, seen = scripted(ok({"boards": [board]}))
    client, _ = make_client(handler)
    async with client:
        spec = await client.get_board("42")
    assert body_of(seen[0])["variables"] == {"boardId": "42"}
    assert (spec.id, spec.name, spec.type, spec.items_count) == ("42", "Roadmap", "board", 17)
    assert [c.id for c in spec.columns] == ["name", "status", "subitems"]
    status = spec.column("status")
    assert status is not None and status.settings == {"labels": {"1": "Done"}}
    assert spec.column("name") is not None and spec.column("name").settings == {}  # type: ignore[union-attr]
    assert spec.subitems_board_id == "987654"


async def test_get_board_settings_as_json_string_for_subtasks_too() -> None:
    board = {
        "id": "1",
        "name": "B",
        "type": "board",
        "items_count": 0,
        "columns": [
            {"id": "subitems", "title": "Subitems", "type": "subtasks", "settings": '{"boardIds": ["55"]}'}
        ],
    }
    handler, _ = scripted(ok({"boards": [board]}))
    client, _ = make_client(handler)
    async with client:
        assert (await client.get_board("1")).subitems_board_id == "55"


async def test_get_board_without_subtasks_has_no_subitems_board() -> None:
    handler, _ = scripted(
        ok({"boards": [{"id": "1", "name": "B", "type": "board", "items_count": 0, "columns": []}]})
    )
    client, _ = make_client(handler)
    async with client:
        assert (await client.get_board("1")).subitems_board_id is None


async def test_get_board_on_empty_boards_is_not_found_naming_the_board() -> None:
    handler, _ = scripted(ok({"boards": []}))
    client, _ = make_client(handler)
    async with client:
        with pytest.raises(NotFoundError) as caught:
            await client.get_board("123")
    assert str(caught.value) == "board 123 not found or not accessible with this token"
    assert caught.value.details["board_id"] == "123"


async def test_get_items_asks_100_ids_at_a_time_with_a_matching_limit() -> None:
    seen: list[dict[str, Any]] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        variables = body_of(request)["variables"]
        seen.append(variables)
        return ok({"items": [{"id": i} for i in variables["ids"]]})

    client, _ = make_client(handler)
    ids = [str(i) for i in range(250)]
    async with client:
        items = await client.get_items(ids, column_ids=["status"])
        assert await client.get_items([]) == []
    assert [item["id"] for item in items] == ids
    assert [(len(v["ids"]), v["limit"]) for v in seen] == [(100, 100), (100, 100), (50, 50)]
    assert all(v["columnIds"] == ["status"] for v in seen)


async def test_pager_lets_go_of_a_page_before_the_next_is_fetched() -> None:
    # Memory stays at one page however big the board: by the time the next page is requested, nothing
    # of the pager's still refers to the page the caller has finished with (and has dropped).
    board = FakeBoard(6)
    # a container inside, as real items have (gc does not track a dict of strings only)
    rich: list[dict[str, Any]] = [{**item, "column_values": [{"id": "status"}]} for item in board.items]
    board.items = rich
    alive_at_request: dict[str, list[str]] = {}

    def live_item_ids() -> list[str]:
        ids = {item["id"] for item in board.items}
        found = (o.get("id") for o in gc.get_objects() if type(o) is dict)
        return sorted(i for i in found if isinstance(i, str) and i in ids)

    async def on_request(op: str, variables: dict[str, Any]) -> None:
        alive_at_request[variables.get("cursor", "first")] = live_item_ids()

    board.on_request = on_request
    client, _ = make_client(board)
    seen: list[str] = []
    async with client:
        async for page in client.iter_item_pages("42", page_size=2, skip_seen=False):
            seen.extend(item["id"] for item in page)
            del page
        after = live_item_ids()
    assert seen == [item["id"] for item in board.items]
    # the board's own items are live throughout; what the client parsed must not be
    expected = sorted(item["id"] for item in board.items)
    assert alive_at_request == {"first": expected, "c:1": expected, "c:2": expected}
    assert after == expected
