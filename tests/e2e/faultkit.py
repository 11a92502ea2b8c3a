"""Tools of the fault-injection suite: a TCP proxy whose connections a test cuts at a chosen SQL
statement, the table-equals-board check, a private PostgreSQL server a test may restart, and a tiny
tmpfs to fill up. Used by tests/e2e/test_faults.py and tests/e2e/test_faults_postgres.py."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import shutil
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tests.e2e.conftest import Served
from tests.e2e.test_api import free_port
from tests.e2e.test_incremental import assert_tables_equal_board
from tests.e2e.test_scale_out import Process as ScaleOutProcess

from monday_snowflake.model import Integration
from monday_snowflake.runtime import Runtime
from monday_snowflake.snowflake.connection import SnowflakeWarehouse, build_connect_kwargs
from monday_snowflake.snowflake.naming import quote_identifier

HOST = "127.0.0.1"


# -- a proxy in front of the embedded warehouse ---------------------------------------------------------


class TcpProxy:
    """Forwards 127.0.0.1:<port> to `target_port`. `cut_at(text)` arms a fault: the first HTTP request
    whose (un-gzipped) body contains `text` is never forwarded; every connection is reset at that moment
    and new ones are reset on arrival for `down_seconds`, as a network outage would. `before(text, action)`
    runs an action just before a statement is forwarded. Every SQL text that passes is kept in order."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((HOST, 0))
        self._listener.listen(64)
        self.port = int(self._listener.getsockname()[1])
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._down_until = 0.0
        self._armed: list[tuple[bytes, float]] = []
        self._hooks: list[tuple[str, Callable[[], None], bool]] = []
        self.cuts: list[str] = []
        """The statements a cut happened at, in order."""
        self.refused = 0
        """Connections reset on arrival while the warehouse was "down"."""
        self.statements: list[str] = []
        """Every SQL text that went through, in order."""
        self._closed = False
        threading.Thread(target=self._accept_loop, name="fault-proxy", daemon=True).start()

    def cut_at(self, text: str, down_seconds: float) -> None:
        """Arm a cut; several armed cuts strike one after the other, in the order they were armed."""
        with self._lock:
            self._armed.append((text.encode(), down_seconds))

    def before(self, text: str, action: Callable[[], None], *, after_cut: bool = False) -> None:
        """Run `action` (in the proxy's thread) before forwarding the first statement containing `text`
        (with `after_cut`, the first after a cut); the statement waits for it."""
        with self._lock:
            self._hooks.append((text, action, after_cut))

    @property
    def down(self) -> bool:
        return time.monotonic() < self._down_until

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        with self._lock:
            for sock in list(self._open):
                _reset(sock)
            self._open.clear()

    def _cut(self, statement: str, down_seconds: float) -> None:
        with self._lock:
            self._down_until = time.monotonic() + down_seconds
            self.cuts.append(statement)
            for sock in list(self._open):
                _reset(sock)
            self._open.clear()

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.down:
                self.refused += 1
                _reset(client)
                continue
            try:
                server = socket.create_connection((HOST, self.target_port), timeout=10)
            except OSError:
                _reset(client)
                continue
            server.settimeout(None)
            with self._lock:
                self._open.update((client, server))
            threading.Thread(target=self._requests, args=(client, server), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client), daemon=True).start()

    def _requests(self, client: socket.socket, server: socket.socket) -> None:
        """Client to server, one HTTP request at a time, so a cut lands exactly before a statement."""
        buffer = b""
        try:
            while True:
                head_end = buffer.find(b"\r\n\r\n")
                while head_end < 0:
                    chunk = client.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                    head_end = buffer.find(b"\r\n\r\n")
                head = buffer[:head_end].decode("latin-1").lower()
                length = 0
                for line in head.split("\r\n")[1:]:
                    name, _, value = line.partition(":")
                    if name.strip() == "content-length":
                        length = int(value.strip())
                total = head_end + 4 + length
                while len(buffer) < total:
                    chunk = client.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                request, buffer = buffer[:total], buffer[total:]
                sql = _sql_text(request[head_end + 4 :], gzipped="content-encoding: gzip" in head)
                if sql is not None:
                    self.statements.append(sql)
                    armed = self._armed[0] if self._armed else None
                    if armed is not None and armed[0] in sql.encode():
                        self._armed.pop(0)
                        self._cut(sql, armed[1])
                        return
                    self._run_hooks(sql)
                server.sendall(request)
        except OSError:
            return
        finally:
            self._forget(client, server)

    def _run_hooks(self, sql: str) -> None:
        due: list[Callable[[], None]] = []
        with self._lock:
            hooks, self._hooks = self._hooks, []
            for text, action, after_cut in hooks:
                if text in sql and (self.cuts or not after_cut):
                    due.append(action)
                else:
                    self._hooks.append((text, action, after_cut))
        for action in due:
            action()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            self._forget(source, sink)

    def _forget(self, *socks: socket.socket) -> None:
        with self._lock:
            for sock in socks:
                if sock in self._open:
                    self._open.discard(sock)
                    _reset(sock)


def _sql_text(body: bytes, *, gzipped: bool) -> str | None:
    try:
        payload = json.loads(gzip.decompress(body) if gzipped else body)
    except (ValueError, OSError):
        return None
    text = payload.get("sqlText") if isinstance(payload, dict) else None
    return str(text) if text is not None else None


def _reset(sock: socket.socket) -> None:
    """Close with a TCP reset (SO_LINGER 0), as a dead peer or a cut cable looks to the other side."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


# -- the warehouse equals the board -------------------------------------------------------------------


def assert_warehouse_equals_board(runtime: Runtime, integration: Integration, served: Served) -> None:
    """Every table of the integration equals its board (nothing lost, nothing extra, every value) and
    holds each item once (nothing duplicated)."""
    assert_tables_equal_board(runtime, runtime.store.get_integration(integration.id), served)
    for table in tables_of(runtime, integration):
        assert duplicated_keys(runtime, table) == [], f"{table} holds an item twice"


def tables_of(runtime: Runtime, integration: Integration) -> list[str]:
    """The qualified names of the integration's tables, from its last completed run."""
    names: list[str] = []
    for run in runtime.store.list_runs(integration.id):
        tables = runtime.store.get_run(run.id).metrics.get("tables") or {}
        for table in tables.values():
            name = qualified(*str(table["table"]).split("."))
            if name not in names:
                names.append(name)
    assert names, "no run recorded its tables"
    return names


def qualified(database: str, schema: str, name: str) -> str:
    return ".".join(quote_identifier(p) for p in (database, schema, name))


def query(runtime: Runtime, sql: str) -> list[tuple[Any, ...]]:
    warehouse = runtime.open_warehouse()
    try:
        return warehouse.query(sql)[1]
    finally:
        warehouse.close()


def duplicated_keys(runtime: Runtime, table: str) -> list[tuple[Any, ...]]:
    return query(runtime, f"SELECT ITEM_ID, COUNT(*) FROM {table} GROUP BY ITEM_ID HAVING COUNT(*) > 1")


def snapshot(source: Runtime | SnowflakeWarehouse, table: str) -> list[tuple[Any, ...]]:
    """Every row of the table, in key order, without the load timestamp."""
    warehouse = source.open_warehouse() if isinstance(source, Runtime) else source
    try:
        names, rows = warehouse.query(f"SELECT * FROM {table} ORDER BY ITEM_ID")
    finally:
        if warehouse is not source:
            warehouse.close()
    keep = [i for i, name in enumerate(names) if name != "_SYNCED_AT"]
    return [tuple(row[i] for i in keep) for row in rows]


@contextlib.contextmanager
def direct_warehouse(runtime: Runtime, port: int) -> Iterator[SnowflakeWarehouse]:
    """A session on the embedded warehouse at `port`, past any proxy."""
    import snowflake.connector

    params = build_connect_kwargs(runtime.settings.snowflake, embedded_address=(HOST, port))
    warehouse = SnowflakeWarehouse(snowflake.connector.connect(**params))
    try:
        yield warehouse
    finally:
        warehouse.close()


# -- processes ------------------------------------------------------------------------------------------


class Process(ScaleOutProcess):
    """A `monday-snowflake` command in the background (see test_scale_out.py), that can also be killed."""

    def kill(self) -> None:
        """kill -9: no chance to finish, release or clean up anything."""
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait(timeout=30)

    def close(self) -> None:
        self.stop()
        self.log.close()


def product_env(runtime: Runtime, **extra: str) -> dict[str, str]:
    """The environment a `monday-snowflake` process needs to share this runtime's state and warehouse."""
    settings = runtime.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONDAY_SNOWFLAKE_")}
    env |= {
        "MONDAY_SNOWFLAKE_DATA_DIR": str(settings.data_dir),
        "MONDAY_SNOWFLAKE_DATABASE_URL": str(settings.database_url),
        "MONDAY_SNOWFLAKE_SECRET_KEY": settings.secret_key.get_secret_value() if settings.secret_key else "",
        "MONDAY_SNOWFLAKE_SNOWFLAKE__SCHEMA_NAME": settings.snowflake.schema_name,
        "MONDAY_SNOWFLAKE_MONDAY__API_URL": settings.monday.api_url,
        "MONDAY_SNOWFLAKE_MONDAY__BACKOFF_BASE_SECONDS": "0.05",
    }
    env |= {f"MONDAY_SNOWFLAKE_{k.upper()}": v for k, v in extra.items()}
    return env


# -- a private PostgreSQL server --------------------------------------------------------------------------


def postgres_bin() -> Path | None:
    """The directory of initdb and pg_ctl, if PostgreSQL is installed."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return candidates[-1].parent if candidates else None


class PrivatePostgres:
    """A PostgreSQL server of the test's own, in a temporary directory on a free port, that the test may
    stop and start (the shared server other tests use is never touched). As root it runs as the
    `postgres` OS user, which PostgreSQL requires."""

    def __init__(self, bin_dir: Path, directory: Path) -> None:
        self.bin_dir = bin_dir
        self.directory = directory
        self.data = directory / "data"
        self.port = free_port()
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            self._as_user = ["runuser", "-u", "postgres", "--"]
            directory.mkdir(parents=True, exist_ok=True)
            shutil.chown(directory, "postgres", "postgres")
            directory.chmod(0o700)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@{HOST}:{self.port}/postgres"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses={HOST} -c fsync=off"
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.directory / "log"), "-w", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):
            self.stop("immediate")

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run(
            [*self._as_user, str(self.bin_dir / program), *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stdout}{done.stderr}")


# -- a small disk -------------------------------------------------------------------------------------------


@contextlib.contextmanager
def small_disk(directory: Path, size: str) -> Iterator[str | None]:
    """A tmpfs of `size` mounted on `directory`, so writing past it fails with a real ENOSPC. Yields None
    and the reason when it cannot be mounted (mounting needs root or CAP_SYS_ADMIN)."""
    directory.mkdir(parents=True, exist_ok=True)
    mounted = (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)],
            capture_output=True,
            text=True,
            check=False,
        )
        if shutil.which("mount")
        else None
    )
    if mounted is None or mounted.returncode != 0:
        reason = mounted.stderr.strip() if mounted is not None else "no mount command"
        yield f"cannot mount a tmpfs to fill up ({reason or 'not permitted'})"
        return
    try:
        yield None
    finally:
        subprocess.run(["umount", "-l", str(directory)], capture_output=True, check=False)


def fill(directory: Path, leave_bytes: int) -> Path:
    """Fill the file system of `directory` up to `leave_bytes` free; returns the filler file."""
    filler = directory / "filler"
    free = shutil.disk_usage(directory).free
    with filler.open("wb") as handle:
        handle.write(b"\0" * max(0, free - leave_bytes))
    return filler
