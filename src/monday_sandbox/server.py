"""Running the sandbox: `SandboxServer` (a background uvicorn for tests and the demo) and
`run_sandbox` (the foreground server behind `monday-snowflake sandbox`)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn

from monday_sandbox import persistence
from monday_sandbox.app import Runtime, create_app, runtime_of
from monday_sandbox.state import Sandbox

DEFAULT_TOKEN = "sandbox-token"  # noqa: S105 - a well-known local sandbox token


class SandboxServer:
    """uvicorn on 127.0.0.1 in a daemon thread. Port 0 picks a free port; `.url` is the base URL.

    Use as a context manager, or call `start()` and `stop()`. The GraphQL endpoint is `url + "/v2"`.
    """

    def __init__(
        self,
        sandbox: Sandbox | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        state_file: str | Path | None = None,
        log_level: str = "warning",
        **app_options: Any,
    ) -> None:
        self.sandbox = sandbox or Sandbox()
        self.host = host
        self.app = create_app(self.sandbox, state_file=state_file, **app_options)
        # IPPROTO_TCP explicitly: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on sockets whose
        # protocol says TCP, and without it every response waits ~40 ms for a delayed ACK.
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(self.app, log_level=log_level, lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def runtime(self) -> Runtime:
        return runtime_of(self.app)

    def start(self, timeout: float = 10.0) -> SandboxServer:
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="sandbox-server", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the sandbox server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.runtime.close()
        self._socket.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def build_sandbox(
    *,
    token: str = DEFAULT_TOKEN,
    boards: int = 2,
    items: int = 1000,
    subitems: int = 2,
    seed: int = 7,
    state_file: str | Path | None = None,
) -> Sandbox:
    """A sandbox from the state file when it exists, else freshly seeded; `token` always works."""
    sandbox = Sandbox()
    loaded = state_file is not None and persistence.load(sandbox, Path(state_file))
    if not loaded and boards > 0:
        from monday_sandbox.generator import seed_account

        seed_account(sandbox, boards=boards, items=items, subitems=subitems, seed=seed)
    if token not in sandbox.data.tokens:
        sandbox.add_token(token)
    return sandbox


def run_sandbox(
    port: int = 8765,
    token: str = DEFAULT_TOKEN,
    boards: int = 2,
    items: int = 1000,
    subitems: int = 2,
    seed: int = 7,
    state_file: str | Path | None = None,
    host: str = "127.0.0.1",
) -> None:
    """Seed (or load) a sandbox, print how to reach it, and serve until interrupted."""
    sandbox = build_sandbox(
        token=token, boards=boards, items=items, subitems=subitems, seed=seed, state_file=state_file
    )
    app = create_app(sandbox, state_file=state_file)
    url = f"http://{host}:{port}"
    main_boards = [b for b in sandbox.data.boards.values() if b.type == "board"]
    print(f"monday sandbox listening on {url}")
    print(f"  GraphQL endpoint: {url}/v2")
    print(f"  token:            {token}")
    for board in main_boards:
        print(f"  board {board.id}: {board.name} ({len(sandbox.active_items(board))} items)")
    print(f"  admin API:        {url}/sandbox/  (docs at {url}/sandbox/docs)")
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", lifespan="off")
    finally:
        runtime_of(app).close()
