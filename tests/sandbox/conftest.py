"""Fixtures for the sandbox tests: a sandbox on a frozen clock, a real server, a webhook receiver."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from monday_sandbox.clock import Clock
from monday_sandbox.model import Board
from monday_sandbox.server import SandboxServer
from monday_sandbox.state import Sandbox

TOKEN = "test-token"
APP_TOKEN = "app-token"
START = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def sandbox(clock: Clock) -> Sandbox:
    sandbox = Sandbox(clock=clock)
    user = sandbox.create_user("Test User", "test@example.com", timezone="UTC")
    sandbox.add_token(TOKEN, user.id)
    sandbox.add_token(APP_TOKEN, user.id, kind="app", scopes=["boards:read", "boards:write"])
    return sandbox


@pytest.fixture
def server(sandbox: Sandbox) -> Iterator[SandboxServer]:
    with SandboxServer(sandbox) as running:
        yield running


@pytest.fixture
def client(server: SandboxServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers={"Authorization": TOKEN}, timeout=30) as http:
        yield http


def gql(
    client: httpx.Client, query: str, variables: dict[str, Any] | None = None, **headers: str
) -> httpx.Response:
    body: dict[str, Any] = {"query": query}
    if variables is not None:
        body["variables"] = variables
    return client.post("/v2", json=body, headers=headers)


def data(client: httpx.Client, query: str, variables: dict[str, Any] | None = None, **headers: str) -> Any:
    """The `data` of a successful answer; fails the test on HTTP errors or `errors[]`."""
    response = gql(client, query, variables, **headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


def errors(client: httpx.Client, query: str, variables: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    response = gql(client, query, variables)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body.get("errors"), body
    return list(body["errors"])


@pytest.fixture
def board(sandbox: Sandbox) -> Board:
    """A board with a status, text, numbers, date, people and tags column and two groups, no items."""
    owner = next(iter(sandbox.data.users.values()))
    board = sandbox.create_board("Projects", owner.id)
    sandbox.create_group(board.id, "Active")
    sandbox.create_group(board.id, "Later")
    sandbox.create_column(board.id, "Status", "status", None, "status")
    sandbox.create_column(board.id, "Text", "text", None, "text")
    sandbox.create_column(board.id, "Amount", "numbers", None, "numbers")
    sandbox.create_column(board.id, "Due", "date", None, "date")
    sandbox.create_column(board.id, "Owner", "people", None, "people")
    sandbox.create_column(board.id, "Tags", "tags", None, "tags")
    return board


class Receiver:
    """A real HTTP endpoint that records what it receives; it can refuse or mis-echo on purpose."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.fail_next = 0
        self.wrong_echo = False
        app = Starlette(routes=[Route("/hook", self._hook, methods=["POST"])])
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}/hook"
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    async def _hook(self, request: Request) -> Response:
        body = json.loads(await request.body())
        if "challenge" in body:
            return JSONResponse({"challenge": "wrong" if self.wrong_echo else body["challenge"]})
        self.received.append(body)
        self.headers.append(dict(request.headers))
        if self.fail_next > 0:
            self.fail_next -= 1
            return JSONResponse({"error": "try later"}, status_code=500)
        return JSONResponse({"ok": True})

    def events(self) -> list[dict[str, Any]]:
        return [r["event"] for r in self.received]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.events()

    def start(self) -> Receiver:
        self._thread.start()
        while not self._server.started:
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    yield running
    running.stop()
