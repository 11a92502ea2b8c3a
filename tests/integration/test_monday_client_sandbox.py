"""The monday client against the sandbox over real HTTP: paging, cursor expiry, budgets and faults."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from monday_sandbox.generator import seed_board
from monday_sandbox.model import Board
from monday_sandbox.server import SandboxServer
from monday_sandbox.state import Sandbox
from monday_snowflake.errors import AuthenticationError, NotFoundError, TransientError
from monday_snowflake.monday.client import MondayClient
from monday_snowflake.settings import MondaySettings

TOKEN = "client-test-token"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[SandboxServer, Board]]:
    sandbox = Sandbox()
    owner = sandbox.create_user("Owner", "owner@example.com")
    sandbox.add_token(TOKEN, owner.id)
    board = seed_board(
        sandbox, name="Paging board", items=230, subitems_per_item=1, seed=3, owner_id=owner.id
    )
    with SandboxServer(sandbox) as server:
        yield server, board


def client_for(
    server: SandboxServer,
    *,
    token: str = TOKEN,
    page_size: int = 500,
    sleeps: list[float] | None = None,
    max_attempts: int = 6,
) -> MondayClient:
    settings = MondaySettings(
        api_url=f"{server.url}/v2",
        page_size=page_size,
        max_attempts=max_attempts,
        backoff_base_seconds=0.01,
        backoff_max_seconds=120,
    )
    recorded = sleeps if sleeps is not None else []

    async def fake_sleep(seconds: float) -> None:
        recorded.append(seconds)
        server.sandbox.clock.advance(seconds)

    return MondayClient(settings, token, sleep=fake_sleep)


async def read_all(client: MondayClient, board_id: int, **options: object) -> list[str]:
    ids: list[str] = []
    async for page in client.iter_item_pages(str(board_id), **options):  # type: ignore[arg-type]
        ids.extend(item["id"] for item in page)
    return ids


def active_ids(server: SandboxServer, board: Board) -> list[str]:
    return [str(item.id) for item in server.sandbox.active_items(board)]


@pytest.mark.parametrize("page_size", [1, 7, 100, 500])
async def test_paging_visits_every_item_exactly_once(
    served: tuple[SandboxServer, Board], page_size: int
) -> None:
    server, board = served
    async with client_for(server, page_size=page_size) as client:
        ids = await read_all(client, board.id, page_size=page_size)
    assert len(ids) == len(set(ids))
    assert sorted(ids) == sorted(active_ids(server, board))


async def test_get_board_finds_columns_and_the_subitems_board(served: tuple[SandboxServer, Board]) -> None:
    server, board = served
    async with client_for(server) as client:
        spec = await client.get_board(str(board.id))
    assert spec.name == board.name
    assert {c.id for c in spec.columns} == set(board.columns)
    subtasks = next(c for c in board.columns.values() if c.type == "subtasks")
    assert spec.subitems_board_id == str(subtasks.settings["boardIds"][0])


async def test_unknown_board_names_the_board(served: tuple[SandboxServer, Board]) -> None:
    server, _ = served
    async with client_for(server) as client:
        with pytest.raises(NotFoundError, match="board 424242"):
            await client.get_board("424242")


async def test_bad_token_is_a_permanent_authentication_error(served: tuple[SandboxServer, Board]) -> None:
    server, board = served
    async with client_for(server, token="not-a-token") as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.get_board(str(board.id))
    assert "not-a-token" not in str(caught.value)


async def test_expired_cursor_restarts_without_losing_or_doubling_items(
    served: tuple[SandboxServer, Board],
) -> None:
    server, board = served
    ids: list[str] = []
    async with client_for(server, page_size=50) as client:
        pages = 0
        async for page in client.iter_item_pages(str(board.id), page_size=50):
            ids.extend(item["id"] for item in page)
            pages += 1
            if pages == 2:
                server.sandbox.clock.advance(61 * 60)  # every cursor issued so far is now expired
    assert len(ids) == len(set(ids))
    assert sorted(ids) == sorted(active_ids(server, board))


@pytest.mark.parametrize("failure", ["500", "502", "429", "drop"])
async def test_transient_faults_are_retried_until_the_board_is_read(
    served: tuple[SandboxServer, Board], failure: str
) -> None:
    server, board = served
    server.runtime.faults.configure(TOKEN, fail_next=2, fail_with=failure)
    try:
        sleeps: list[float] = []
        async with client_for(server, sleeps=sleeps) as client:
            ids = await read_all(client, board.id)
        assert sorted(ids) == sorted(active_ids(server, board))
        assert len(sleeps) >= 2
    finally:
        server.runtime.faults.clear()


async def test_persistent_faults_give_up_with_a_transient_error(served: tuple[SandboxServer, Board]) -> None:
    server, board = served
    server.runtime.faults.configure(TOKEN, fail_next=10, fail_with="500")
    try:
        async with client_for(server, max_attempts=3) as client:
            with pytest.raises(TransientError):
                await client.get_board(str(board.id))
    finally:
        server.runtime.faults.clear()


async def test_exhausted_complexity_budget_waits_for_the_reset(served: tuple[SandboxServer, Board]) -> None:
    server, board = served
    settings = server.sandbox.settings
    original = settings.complexity_budget
    settings.complexity_budget = 25_000  # about two pages of 100 items
    try:
        sleeps: list[float] = []
        async with client_for(server, page_size=100, sleeps=sleeps) as client:
            ids = await read_all(client, board.id, page_size=100)
        assert sorted(ids) == sorted(active_ids(server, board))
        assert sleeps, "the client should have waited for the budget to reset"
    finally:
        settings.complexity_budget = original
