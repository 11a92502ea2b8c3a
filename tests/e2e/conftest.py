"""End-to-end fixtures: a seeded sandbox over HTTP, and a product runtime on the embedded warehouse."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from monday_sandbox.generator import seed_account
from monday_sandbox.model import Board
from monday_sandbox.server import SandboxServer
from monday_sandbox.state import Sandbox
from monday_snowflake.runtime import Runtime
from monday_snowflake.settings import MondaySettings, Settings, SnowflakeSettings

TOKEN = "e2e-token"


class Served:
    """A running sandbox and its seeded main board."""

    def __init__(self, server: SandboxServer, board: Board) -> None:
        self.server = server
        self.board = board
        self.sandbox = server.sandbox

    @property
    def api_url(self) -> str:
        return f"{self.server.url}/v2"


def serve_seeded(items: int, subitems: int, seed: int) -> Iterator[Served]:
    sandbox = Sandbox()
    board = seed_account(sandbox, boards=1, items=items, subitems=subitems, seed=seed)[0]
    sandbox.add_token(TOKEN)
    with SandboxServer(sandbox) as server:
        yield Served(server, board)


@pytest.fixture
def served() -> Iterator[Served]:
    """A fresh sandbox per test (tests change the board)."""
    yield from serve_seeded(items=160, subitems=1, seed=11)


def make_settings(data_dir: Path, state_dir: Path, api_url: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=data_dir,
        database_url=f"sqlite:///{state_dir / 'state.db'}",
        secret_key=Fernet.generate_key().decode(),
        monday=MondaySettings(api_url=api_url, backoff_base_seconds=0.01, max_attempts=3),
        snowflake=SnowflakeSettings(schema_name=f"E2E_{uuid.uuid4().hex[:10].upper()}"),
    )


@pytest.fixture
def runtime(warehouse_data_dir: Path, tmp_path: Path, served: Served) -> Iterator[Runtime]:
    """The product wired to the sandbox and the shared embedded warehouse, in a schema of its own."""
    rt = Runtime(make_settings(warehouse_data_dir, tmp_path, served.api_url))
    try:
        yield rt
    finally:
        rt.close()
