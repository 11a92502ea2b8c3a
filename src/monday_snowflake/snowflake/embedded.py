"""The embedded warehouse: fakesnow's Snowflake-compatible HTTP server (DuckDB inside) on 127.0.0.1.

One process per data directory serves it and records `{pid, port, stage_root}` in
`<data_dir>/warehouse/server.json`; every other process reaches it over HTTP through the real
connector, because only one process may open the DuckDB files (see shared/docs/EMBEDDED-WAREHOUSE.md).
"""

from __future__ import annotations

import contextlib
import fcntl
import http.client
import json
import logging
import os
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monday_snowflake.errors import ConfigurationError, TransientError
from monday_snowflake.snowflake import embedded_auth, embedded_grants

HOST = "127.0.0.1"
_START_TIMEOUT_SECONDS = 30.0
_PROBE_TIMEOUT_SECONDS = 2.0
# fakesnow answers an unauthenticated session request with this Snowflake error code.
_FAKESNOW_NO_TOKEN_CODE = "390103"  # noqa: S105 - an error code, not a secret

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerInfo:
    """What `server.json` records about a running embedded warehouse."""

    pid: int
    port: int
    stage_root: str


class _InProcessServer:
    """The uvicorn server thread serving fakesnow in this process (at most one per process)."""

    def __init__(self, directory: Path, server: Any, thread: threading.Thread, port: int, fs: Any) -> None:
        self.directory = directory
        self.server = server
        self.thread = thread
        self.port = port
        self.fs = fs


_lock = threading.Lock()
_running: _InProcessServer | None = None


class EmbeddedWarehouse:
    """Finds or starts the embedded warehouse of one data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.directory = (Path(data_dir) / "warehouse").resolve()
        self.info_path = self.directory / "server.json"
        self.stage_root = self.directory / "stages"
        self.refusals_path = self.directory / embedded_grants.FILE_NAME

    def ensure_running(self) -> tuple[str, int]:
        """Return (host, port) of a live server for this data directory, starting one here if none is."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with _lock, self._start_lock():
            global _running
            if _running is not None:
                if _running.directory == self.directory and _running.thread.is_alive():
                    return HOST, _running.port
                if _running.directory != self.directory:
                    raise ConfigurationError(
                        "this process already serves the embedded warehouse of another data directory",
                        directory=str(_running.directory),
                    )
            info = self.read_info()
            if info is not None and info.pid != os.getpid() and _pid_alive(info.pid) and _probe(info.port):
                return HOST, info.port
            _running = self._start()
            self._write_info(ServerInfo(os.getpid(), _running.port, str(self.stage_root)))
            return HOST, _running.port

    def read_info(self) -> ServerInfo | None:
        """The recorded server of this data directory, if any (it may be stale)."""
        try:
            raw = json.loads(self.info_path.read_text())
            return ServerInfo(int(raw["pid"]), int(raw["port"]), str(raw["stage_root"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def is_served_here(self) -> bool:
        """Whether this process serves this data directory's warehouse."""
        return _running is not None and _running.directory == self.directory

    def refuse(self, privilege: str, database: str, schema: str) -> None:
        """Refuse `CREATE TABLE` or `CREATE STAGE` in a schema from now on, as Snowflake does to a role
        without the privilege (see `embedded_grants`); for tests and demos of a missing grant."""
        self.directory.mkdir(parents=True, exist_ok=True)
        embedded_grants.change(self.refusals_path, (privilege, database, schema), refuse=True)

    def allow(self, privilege: str, database: str, schema: str) -> None:
        """Undo `refuse`."""
        embedded_grants.change(self.refusals_path, (privilege, database, schema), refuse=False)

    def stop(self) -> None:
        """Stop the server if this process runs it, close its DuckDB files and remove server.json."""
        global _running
        with _lock:
            running = _running
            if running is None or running.directory != self.directory:
                return
            running.server.should_exit = True
            running.thread.join(timeout=10)
            import fakesnow.server as fs_server

            fs_server.sessions.clear()
            running.fs.duck_conn.close()
            _running = None
            info = self.read_info()
            if info is not None and info.pid == os.getpid():
                self.info_path.unlink(missing_ok=True)

    def _start(self) -> _InProcessServer:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import fakesnow.instance
            import fakesnow.server as fs_server
            import fakesnow.transforms.stage as fs_stage
            import uvicorn
        _quiet_fakesnow()
        _keep_null_timestamps()

        self.stage_root.mkdir(parents=True, exist_ok=True)
        # Staged files live in the data directory, so any process sharing it can clean them up.
        fs_stage.LOCAL_BUCKET_PATH = str(self.stage_root)
        fs = fakesnow.instance.FakeSnow(db_path=str(self.directory))
        fs_server.shared_fs = fs
        fs_server.sessions.clear()

        # IPPROTO_TCP explicitly: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on sockets whose
        # protocol says TCP, and without it every response waits ~40 ms for a delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, 0))
        port = int(sock.getsockname()[1])
        grants = embedded_grants.RefusingServer(fs_server.app, self.refusals_path)
        app = embedded_auth.LoginRefusals(grants, self.directory / embedded_auth.FILE_NAME)
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        server = uvicorn.Server(config)
        thread = threading.Thread(target=_serve, args=(server, sock), name="embedded-warehouse", daemon=True)
        thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_SECONDS
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise TransientError("the embedded warehouse did not start", directory=str(self.directory))
            time.sleep(0.01)
        log.info("embedded warehouse started", extra={"port": port, "directory": str(self.directory)})
        return _InProcessServer(self.directory, server, thread, port, fs)

    def _write_info(self, info: ServerInfo) -> None:
        tmp = self.info_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"pid": info.pid, "port": info.port, "stage_root": info.stage_root}))
        tmp.replace(self.info_path)

    @contextlib.contextmanager
    def _start_lock(self) -> Iterator[None]:
        """Serialise find-or-start across processes sharing the data directory."""
        with open(self.directory / "server.lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _serve(server: Any, sock: socket.socket) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server.run(sockets=[sock])


def _quiet_fakesnow() -> None:
    """fakesnow logs every login and upload at INFO; keep only its warnings and errors."""
    for name in ("fakesnow", "fakesnow.server"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"fakesnow(\..*)?")
    warnings.filterwarnings("ignore", category=UserWarning, module=r"sqlglot(\..*)?")


def _keep_null_timestamps() -> None:
    """Patch fakesnow 0.12.1's result encoding so a NULL timestamp reads back as NULL, not 1970-01-01.

    fakesnow sends timestamps as Snowflake's {epoch, fraction} struct but drops the null mask on the
    way. The patch re-applies it; it runs once, in the process that serves the embedded warehouse.
    """
    import fakesnow.arrow as fs_arrow
    import pyarrow as pa

    original = fs_arrow.timestamp_to_sf_struct
    if getattr(original, "_keeps_nulls", False):
        return

    def timestamp_to_sf_struct(ts: Any) -> Any:
        result = original(ts)
        column = ts.combine_chunks() if isinstance(ts, pa.ChunkedArray) else ts
        if column.null_count == 0:
            return result
        children = [result.field(i).fill_null(0) for i in range(result.type.num_fields)]
        return pa.StructArray.from_arrays(children, fields=list(result.type), mask=column.is_null())

    timestamp_to_sf_struct._keeps_nulls = True  # type: ignore[attr-defined]
    fs_arrow.timestamp_to_sf_struct = timestamp_to_sf_struct


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _probe(port: int) -> bool:
    """True if a fakesnow server answers on the port (an unauthenticated session call gets its 390103)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=_PROBE_TIMEOUT_SECONDS)
    try:
        conn.request("POST", "/session", body=b"{}", headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        body = json.loads(response.read() or b"{}")
        return isinstance(body, dict) and body.get("code") == _FAKESNOW_NO_TOKEN_CODE
    except (OSError, ValueError, http.client.HTTPException):
        return False
    finally:
        conn.close()
