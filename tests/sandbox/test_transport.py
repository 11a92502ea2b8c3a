"""The /v2 transport: auth, API versions, parsing and validation, envelopes, empty unmodelled fields."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from monday_sandbox.clock import Clock
from monday_sandbox.model import Board
from monday_sandbox.server import SandboxServer
from monday_sandbox.state import Sandbox

from .conftest import APP_TOKEN, TOKEN, data, errors, gql


def test_bare_and_bearer_tokens_are_both_accepted(server: SandboxServer) -> None:
    for header in (TOKEN, f"Bearer {TOKEN}"):
        response = httpx.post(
            f"{server.url}/v2", json={"query": "{ me { id name } }"}, headers={"Authorization": header}
        )
        assert response.status_code == 200
        assert response.json()["data"]["me"]["name"] == "Test User"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "not-a-token"}, {"Authorization": "Bearer nope"}])
def test_missing_or_wrong_token_is_401(server: SandboxServer, headers: dict[str, str]) -> None:
    response = httpx.post(f"{server.url}/v2", json={"query": "{ me { id } }"}, headers=headers)
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "Unauthorized"


@pytest.mark.parametrize(
    ("sent", "served"),
    [
        (None, "2026-10"),
        ("2026-07", "2026-07"),
        ("2024-02", "2026-10"),  # well-formed but never a version -> Current
        ("2027-04", "2026-10"),  # a future quarter -> Current
        ("2027-01", "2027-01"),
        ("2024-10", "2026-07"),  # deprecated -> Maintenance
        ("2025-01", "2026-07"),
        ("2025-07", "2026-07"),
        ("dev", "2027-01"),  # dev -> the newest version the sandbox knows (the RC)
    ],
)
def test_api_version_header_is_echoed_with_monday_fallbacks(
    client: httpx.Client, sent: str | None, served: str
) -> None:
    headers = {"API-Version": sent} if sent else {}
    response = gql(client, "{ version { value kind } }", **headers)
    assert response.status_code == 200
    assert response.headers["API-Version"] == served
    assert response.json()["data"]["version"]["value"] == served
    kinds = {"2026-07": "maintenance", "2026-10": "current", "2027-01": "release_candidate"}
    assert response.json()["data"]["version"]["kind"] == kinds[served]


@pytest.mark.parametrize("bad", ["2023", "latest", "2026-13", "26-10"])
def test_malformed_api_version_is_invalid_version_exception(client: httpx.Client, bad: str) -> None:
    response = gql(client, "{ me { id } }", **{"API-Version": bad})
    assert response.status_code == 200
    assert response.json()["errors"][0]["extensions"]["code"] == "InvalidVersionException"


def test_malformed_json_is_400(client: httpx.Client) -> None:
    response = client.post("/v2", content=b'{"query": ', headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "JsonParseException"


@pytest.mark.parametrize("body", [{}, {"query": ""}, {"variables": {}}, {"query": 5}])
def test_missing_query_is_400(client: httpx.Client, body: dict[str, object]) -> None:
    response = client.post("/v2", json=body)
    assert response.status_code == 400
    assert "query" in response.json()["errors"][0]["message"]


def test_unknown_field_is_rejected_with_monday_envelope(client: httpx.Client) -> None:
    response = gql(client, "{\n  boards { id nonsense }\n}")
    assert response.status_code == 200
    body = response.json()
    assert "data" not in body
    (error,) = body["errors"]
    assert "nonsense" in error["message"]
    assert error["locations"] == [{"line": 2, "column": 15}]
    assert error["extensions"]["code"] == "undefinedField"


def test_syntax_error_is_a_parse_error_with_location(client: httpx.Client) -> None:
    (error,) = errors(client, "{ boards { id }")
    assert error["message"].startswith("Parse error")
    assert error["locations"][0]["line"] == 1


def test_wrong_argument_and_variable_types_are_rejected(client: httpx.Client) -> None:
    assert errors(client, '{ boards(limit: "x") { id } }')[0]["extensions"]["code"]
    errs = errors(client, "query($l: Int) { boards(limit: $l) { id } }", {"l": "many"})
    assert "$l" in errs[0]["message"]


def test_unmodelled_fields_answer_empty_values_of_the_right_type(client: httpx.Client, board: Board) -> None:
    result = data(
        client,
        """query($b: [ID!]) { boards(ids: $b) { id views { id } activity_logs { id }
             creator { id name account { plan { max_users } } }
             owners { id } tags { id } access_level permissions top_group { id }
             items_page { items { id } } }
           me { photo_url { original } is_deleted utc_hours_diff out_of_office { active } }
           account { first_day_of_the_week show_timeline_weekends products { id } } }""",
        {"b": [board.id]},
    )
    (b,) = result["boards"]
    assert b["views"] == [] and b["activity_logs"] == []  # unmodelled lists answer [], as monday
    assert b["creator"]["account"]["plan"] is None
    assert b["access_level"] == "edit" and isinstance(b["permissions"], str)
    assert result["me"]["photo_url"] is None and result["me"]["is_deleted"] is False
    assert result["account"]["show_timeline_weekends"] is False  # non-null Boolean default
    assert result["account"]["products"] == []


def test_typename_and_introspection_work(client: httpx.Client) -> None:
    assert data(client, "{ __typename me { __typename } }") == {
        "__typename": "Query",
        "me": {"__typename": "User"},
    }
    schema = data(client, "{ __schema { queryType { name } } }")
    assert schema["__schema"]["queryType"]["name"] == "Query"


def test_fragments_aliases_and_skip_include(client: httpx.Client) -> None:
    result = data(
        client,
        """query($yes: Boolean!) {
             who: me { ...U } again: me @include(if: $yes) { id } gone: me @skip(if: $yes) { id } }
           fragment U on User { name email }""",
        {"yes": True},
    )
    assert result == {
        "who": {"name": "Test User", "email": "test@example.com"},
        "again": {"id": result["again"]["id"]},
    }


def test_unexpected_exception_is_a_generic_500(
    server: SandboxServer, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*_: object) -> None:
        raise RuntimeError("secret detail")

    monkeypatch.setitem(server.runtime.service.executor.resolvers["Query"], "me", boom)
    server.runtime.service.documents = type(server.runtime.service.documents)(server.runtime.service.schema)
    response = gql(client, "{ me { id } }")
    assert response.status_code == 500
    assert response.json() == {"error_message": "Internal server error", "status_code": 500}
    assert "secret" not in response.text


def test_rate_limit_headers_and_complexity_field(client: httpx.Client) -> None:
    response = gql(client, "{ complexity { before after query reset_in_x_seconds } me { id } }")
    complexity = response.json()["data"]["complexity"]
    assert complexity["before"] == 10_000_000
    assert complexity["after"] == complexity["before"] - complexity["query"]
    assert complexity["query"] > 0
    assert "complexityMinute" in response.headers["RateLimit-Policy"]
    assert f"r={complexity['after']}" in response.headers["RateLimit"]
    assert response.json()["extensions"]["request_id"]


def test_rate_limit_headers_report_minute_rate_concurrency_and_complexity(
    sandbox: Sandbox, client: httpx.Client, server: SandboxServer, clock: Clock
) -> None:
    sandbox.settings.minute_rate_limit = 3
    first = gql(client, "{ me { id } }")
    assert first.headers["RateLimit-Policy"] == (
        '"minuteRate";q=3;w=60, "concurrency";q=250;qu="concurrent-requests", '
        '"complexityMinute";q=10000000;w=60;qu="content-bytes"'
    )
    after = 10_000_000 - int(data(client, "{ complexity { query } }")["complexity"]["query"])
    assert first.headers["RateLimit"] == (
        f'"minuteRate";r=2, "concurrency";r=249, "complexityMinute";r={after};t=60'
    )
    # counted per token: the app token has its own minute
    with httpx.Client(base_url=server.url, headers={"Authorization": APP_TOKEN}) as app:
        answer = app.post("/v2", json={"query": "{ me { id } }"})
    assert answer.headers["RateLimit"].startswith('"minuteRate";r=2,')
    clock.advance(10)
    third = gql(client, "{ me { id } }")
    assert third.headers["RateLimit"].startswith('"minuteRate";r=0, "concurrency";r=249,')
    over = gql(client, "{ me { id } }")
    assert over.headers["RateLimit"].startswith('"minuteRate";r=0;t=50, ')
    clock.advance(50)  # a new window
    assert gql(client, "{ me { id } }").headers["RateLimit"].startswith('"minuteRate";r=2, ')


def test_concurrency_entry_counts_requests_in_flight(
    sandbox: Sandbox, client: httpx.Client, server: SandboxServer
) -> None:
    sandbox.settings.concurrency_limit = 10
    service = server.runtime.service
    results: list[httpx.Response] = []

    def call() -> None:
        with httpx.Client(base_url=server.url, headers={"Authorization": TOKEN}, timeout=30) as other:
            results.append(gql(other, "{ me { id } }"))

    with sandbox.lock:  # both requests wait inside the service, in flight
        threads = [threading.Thread(target=call) for _ in range(2)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 5
        while service.in_flight < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert service.in_flight == 2
    for thread in threads:
        thread.join(timeout=10)
    remaining = sorted(
        int(r.headers["RateLimit"].split('"concurrency";r=')[1].split(",")[0]) for r in results
    )
    assert remaining == [8, 9]
    assert service.in_flight == 0
    assert '"concurrency";q=10;qu="concurrent-requests"' in results[0].headers["RateLimit-Policy"]


def test_operation_name_selects_the_operation(client: httpx.Client) -> None:
    body = {"query": "query A { me { id } } query B { version { value } }", "operationName": "B"}
    assert client.post("/v2", json=body).json()["data"] == {"version": {"value": "2026-10"}}
    body = {"query": "query A { me { id } } query B { version { value } }"}
    assert client.post("/v2", json=body).json()["errors"]


def test_the_listening_socket_is_tcp_so_responses_are_not_held_back_by_nagle(server: SandboxServer) -> None:
    # asyncio disables Nagle's algorithm only on sockets whose protocol is TCP; without it each
    # response waited ~40 ms for a delayed ACK (measured: 44 ms -> 1.5 ms per small request)
    import socket

    assert server._socket.proto == socket.IPPROTO_TCP
