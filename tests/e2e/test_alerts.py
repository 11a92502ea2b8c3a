"""Permanent failures end to end: the monday sandbox over HTTP, the embedded warehouse refusing an
expired token with Snowflake's own error, the real worker, and a real SMTP server (aiosmtpd) on
127.0.0.1. An expired token gives exactly one alert and one email, pauses the queue, and recovers by
itself once new credentials are saved."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from tests.e2e.conftest import TOKEN, Served, make_settings
from tests.e2e.test_incremental import assert_tables_equal_board

from monday_snowflake.api.app import create_app
from monday_snowflake.errors import CAUSES, AuthenticationError
from monday_snowflake.integrations import create_integration
from monday_snowflake.model import Integration
from monday_snowflake.model.events import WebhookEvent
from monday_snowflake.notify.email import Mailer
from monday_snowflake.queue.handlers import classify
from monday_snowflake.queue.worker import task_correlation_id
from monday_snowflake.realtime.apply import RealtimeApplier
from monday_snowflake.runtime import Runtime
from monday_snowflake.service import Service
from monday_snowflake.settings import EmailSettings, QueueSettings, Settings
from monday_snowflake.snowflake.embedded import EmbeddedWarehouse
from monday_snowflake.snowflake.embedded_auth import refuse_credential
from monday_snowflake.snowflake.naming import quote_identifier
from monday_snowflake.store.alerts import EmailDraft

EXPIRED = CAUSES["snowflake_token_expired"]
OLD_PAT = f"pat-old-{uuid.uuid4().hex}"
NEW_PAT = f"pat-new-{uuid.uuid4().hex}"
OWNER = "owner@example.com"


# -- a real SMTP server ------------------------------------------------------------------------------


@dataclass
class Inbox:
    """What the SMTP server received."""

    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[Inbox]:
    inbox = Inbox(free_port())
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


def email_settings(port: int, **changes: Any) -> EmailSettings:
    values: dict[str, Any] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "starttls": False,
        "sender": "sync@example.com",
        "timeout_seconds": 5,
        "backoff_base_seconds": 0,
        **changes,
    }
    return EmailSettings(**values)


def settings_with(base: Settings, port: int, **email_changes: Any) -> Settings:
    return base.model_copy(
        update={
            "email": email_settings(port, **email_changes),
            "queue": QueueSettings(backoff_base_seconds=0, backoff_max_seconds=0, worker_concurrency=4),
        }
    )


@pytest.fixture
def mailing(served: Served, warehouse_data_dir: Path, tmp_path: Path, smtp: Inbox) -> Iterator[Runtime]:
    """The product on the sandbox and the embedded warehouse, mailing alerts to the `smtp` server."""
    runtime = Runtime(settings_with(make_settings(warehouse_data_dir, tmp_path, served.api_url), smtp.port))
    try:
        yield runtime
    finally:
        runtime.close()


def drain(service: Service, rounds: int = 10) -> int:
    """Run the worker until nothing is due; returns how many tasks ran."""
    worker = service.worker()
    ran = 0
    for _ in range(rounds):
        done = asyncio.run(worker.run_once())
        ran += done
        if done == 0:
            return ran
    return ran


# -- the fault ---------------------------------------------------------------------------------------


def test_an_expired_snowflake_token_alerts_once_pauses_and_recovers_after_new_credentials(
    served: Served, smtp: Inbox, mailing: Runtime
) -> None:
    runtime = mailing
    store = runtime.store
    first = create_integration(
        runtime,
        board_id=str(served.board.id),
        name="orders",
        monday_token=TOKEN,
        monday_url=served.api_url,
    )
    # a second integration of the same connections: its tasks hit the same dead token
    second = store.create_integration(
        account_id=first.account_id,
        name="orders-copy",
        board_id=first.board_id,
        monday_connection_id=first.monday_connection_id,
        snowflake_connection_id=first.snowflake_connection_id,
        target_database=first.target_database,
        target_schema=first.target_schema,
        target_table=f"{first.target_table}_COPY",
    )
    account = first.account_id
    store.create_user(account, OWNER)
    connection = first.snowflake_connection_id
    store.set_connection_secret(connection, {"token": OLD_PAT})
    refuse_credential(runtime.settings.data_dir, OLD_PAT, "expired")
    service = Service(runtime)

    queued = [service.enqueue_run(i) for i in (first, second)]
    assert drain(service) == 2

    # exactly one alert, for the connection, seen by both tasks
    (alert,) = store.list_alerts(account)
    assert (alert.cause, alert.status, alert.occurrences) == (EXPIRED.name, "open", 2)
    assert alert.connection_id == connection and alert.paused_queue
    assert "Programmatic access token is expired" in alert.message
    assert OLD_PAT not in alert.message
    assert store.get_connection(connection).status == "disconnected"
    assert service.queue.stats(account).paused
    # the run history records both failures, under the correlation ids of their tasks
    for q in queued:
        task = service.queue.get(q.task.id)
        assert (task.status, task.error_class) == ("FAILED", "AuthenticationError")
        run = store.get_run(q.run_id, account_id=account)
        assert (run.status, run.error_class) == ("FAILED", "permanent")
        assert run.error and "Programmatic access token is expired" in run.error
        assert run.correlation_id == task.id.replace("-", "")[:16]
    assert alert.correlation_id in {store.get_run(q.run_id).correlation_id for q in queued}

    # exactly one email, on the real SMTP server, saying what failed, why and what to do
    (message,) = smtp.messages
    assert smtp.envelopes == [("sync@example.com", [OWNER])]
    snowflake_name = store.get_connection(connection).name
    assert str(message["Subject"]).strip() == f"[monday-snowflake] {EXPIRED.title}: {snowflake_name}"
    body = message.get_content()
    assert "orders" in body and "Programmatic access token is expired" in body
    assert EXPIRED.action in body
    run_ids = {store.get_run(q.run_id).correlation_id for q in queued}
    assert any(f"Correlation id: {cid}" in body for cid in run_ids), body
    assert OLD_PAT not in body and OLD_PAT not in str(message)
    (sent,) = store.list_outbox(account)
    assert (sent.status, sent.attempts, sent.alert_id) == ("sent", 1, alert.id)

    # more work arrives while the queue is paused: it waits, nothing runs
    waiting = service.enqueue_run(first, reason="schedule", refuse_if_busy=False)
    assert drain(service) == 0
    assert service.queue.get(waiting.task.id).status == "QUEUED"

    # new credentials: resolved, reconnected, resumed, and every waiting task runs
    store.set_connection_secret(connection, {"token": NEW_PAT})
    resolved = store.get_alert(alert.id)
    assert (resolved.status, resolved.resolved_by) == ("resolved", "new credentials")
    assert store.get_connection(connection).status == "connected"
    assert not service.queue.stats(account).paused
    assert drain(service) >= 3  # two of them share an integration: one may wait for the other's lock
    for task_id in (*(q.task.id for q in queued), waiting.task.id):
        assert service.queue.get(task_id).status == "SUCCEEDED"
    for integration in (first, second):
        assert_tables_equal_board(runtime, store.get_integration(integration.id), served)
    # still one alert and one email, no new alert after recovery
    assert len(smtp.messages) == 1
    assert store.list_alerts(account, "open") == []
    assert len(store.list_alerts(account)) == 1


# -- email -------------------------------------------------------------------------------------------


def test_an_email_failure_is_retried_and_recorded_and_never_fails_the_sync(
    served: Served, warehouse_data_dir: Path, tmp_path: Path, smtp: Inbox
) -> None:
    closed_port = free_port()  # nothing listens here
    runtime = Runtime(
        settings_with(
            make_settings(warehouse_data_dir, tmp_path, served.api_url), closed_port, max_attempts=3
        )
    )
    try:
        store = runtime.store
        service = Service(runtime)
        account = store.default_account().id
        store.create_user(account, OWNER)
        integration = _bare_integration(runtime, account)
        task = service.queue.enqueue(account, "sync", {"integration_id": integration.id})
        (claimed,) = service.queue.claim("w1")
        error = AuthenticationError(f"Snowflake: {OLD_PAT} is expired", cause=EXPIRED.name)
        service.queue.fail(claimed.id, claimed.lease_token, error, retry=False)
        # the hook never raises, though the SMTP server is down
        asyncio.run(service.alerter.on_task_failure(claimed, classify(error), task_correlation_id(claimed)))
        (alert,) = store.list_alerts(account)
        (pending,) = store.list_outbox(account)
        assert (pending.status, pending.attempts) == ("pending", 1)
        assert pending.last_error and "ConnectionRefusedError" in pending.last_error
        assert service.queue.get(task.id).status == "FAILED"  # the failure itself is unchanged

        mailer = Mailer(runtime.settings.email, store)
        assert mailer.deliver_due() == 0
        third = mailer.deliver_due()
        assert third == 0
        (failed,) = store.list_outbox(account)
        assert (failed.status, failed.attempts) == ("failed", 3)
        assert mailer.deliver_due() == 0 and store.list_outbox(account)[0].attempts == 3

        # an email to a server that is up: sent once, however often the outbox is looked at
        working = Mailer(email_settings(smtp.port), store)
        draft = EmailDraft((OWNER,), "subject", "What failed: ...\nWhat to do: ...")
        store.add_email(account, draft, alert_id=alert.id)
        assert working.deliver_due() == 1
        assert working.deliver_due() == 0
        (message,) = smtp.messages
        assert message.get_content().splitlines() == draft.body.splitlines()
    finally:
        runtime.close()


def test_without_an_smtp_host_emails_stay_in_the_outbox_and_the_log(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    store = runtime.store
    account = store.default_account().id
    store.add_email(account, EmailDraft((OWNER,), "[monday-snowflake] hello", "body"))
    assert Mailer(runtime.settings.email, store).deliver_due() == 1
    (logged,) = store.list_outbox(account)
    assert (logged.status, logged.attempts) == ("logged", 1)
    assert "no SMTP host" in (logged.last_error or "")
    assert any("[monday-snowflake] hello" in r.getMessage() for r in caplog.records)


# -- the API -----------------------------------------------------------------------------------------


def test_alerts_and_the_outbox_in_the_api_are_scoped_to_the_account(runtime: Runtime) -> None:
    store = runtime.store
    service = Service(runtime)
    tenants = {}
    for name in ("a", "b"):
        account = store.create_account(name).id
        key, _ = store.create_api_key(account, "tests")
        integration = _bare_integration(runtime, account)
        alert, _ = store.raise_alert(
            account,
            EXPIRED,
            f"expired for {name}",
            integration_id=integration.id,
            connection_id=integration.snowflake_connection_id,
            email=EmailDraft((f"{name}@example.com",), f"subject {name}", "body"),
        )
        tenants[name] = (account, key, alert.id)
    client = TestClient(create_app(service, run_worker=False, run_scheduler=False))
    a_account, a_key, a_alert = tenants["a"]
    _, b_key, b_alert = tenants["b"]
    a = {"Authorization": f"Bearer {a_key}"}

    assert client.get("/alerts").status_code == 401
    listed = client.get("/alerts", headers=a).json()
    assert [(x["id"], x["status"], x["message"]) for x in listed] == [(a_alert, "open", "expired for a")]
    assert listed[0]["action"] == EXPIRED.action and listed[0]["occurrences"] == 1
    assert client.get("/alerts", headers=a, params={"status": "resolved"}).json() == []
    assert client.get("/alerts", headers=a, params={"status": "nope"}).status_code == 422
    assert [e["subject"] for e in client.get("/outbox", headers=a).json()] == ["subject a"]

    other = client.post(f"/alerts/{b_alert}/resolve", headers=a)
    assert other.status_code == 404
    assert store.get_alert(b_alert).status == "open"

    metrics = client.get("/metrics").text
    assert f'monday_snowflake_alerts_open{{cause="{EXPIRED.name}"}} 2.0' in metrics

    done = client.post(f"/alerts/{a_alert}/resolve", headers=a)
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["resolved_by"]) == ("resolved", "api")
    assert [x["id"] for x in client.get("/alerts", headers=a, params={"status": "open"}).json()] == []
    assert client.get("/alerts", headers={"X-API-Key": b_key}).json()[0]["status"] == "open"
    assert f'monday_snowflake_alerts_open{{cause="{EXPIRED.name}"}} 1.0' in client.get("/metrics").text
    assert a_account != tenants["b"][0]


def _bare_integration(runtime: Runtime, account: str) -> Integration:
    """An integration row with its two connections, without asking monday (the API tests need no board)."""
    store = runtime.store
    suffix = uuid.uuid4().hex[:6]
    monday = store.create_connection(account, "monday", f"m-{suffix}", {"api_url": "x"}, {"token": TOKEN})
    snow = store.create_connection(account, "snowflake", f"s-{suffix}", {}, {"token": OLD_PAT})
    return store.create_integration(
        account_id=account,
        name=f"i-{suffix}",
        board_id="1",
        monday_connection_id=monday.id,
        snowflake_connection_id=snow.id,
        target_database="MONDAY",
        target_schema="PUBLIC",
        target_table="T",
    )


# -- a revoked monday token, and the scheduler's expiry check ----------------------------------------


def test_a_revoked_monday_token_disconnects_the_monday_connection_and_new_token_recovers(
    served: Served, smtp: Inbox, mailing: Runtime
) -> None:
    runtime = mailing
    store = runtime.store
    integration = create_integration(
        runtime,
        board_id=str(served.board.id),
        name="orders",
        monday_token=TOKEN,
        monday_url=served.api_url,
    )
    account = integration.account_id
    store.create_user(account, OWNER)
    service = Service(runtime)
    served.sandbox.revoke_token(TOKEN)  # the app was uninstalled, or the token revoked
    queued = service.enqueue_run(integration)
    assert drain(service) == 1
    (alert,) = store.list_alerts(account)
    assert (alert.cause, alert.connection_id) == ("monday_auth", integration.monday_connection_id)
    assert store.get_connection(integration.monday_connection_id).status == "disconnected"
    assert store.get_connection(integration.snowflake_connection_id).status == "connected"
    assert service.queue.stats(account).paused
    (message,) = smtp.messages
    assert CAUSES["monday_auth"].action in message.get_content()
    assert TOKEN not in message.get_content()

    served.sandbox.add_token("e2e-token-2")
    store.set_connection_secret(integration.monday_connection_id, {"token": "e2e-token-2"})
    assert drain(service) == 1
    assert service.queue.get(queued.task.id).status == "SUCCEEDED"
    served.sandbox.add_token(TOKEN)  # the comparison reads the board with the test's own token
    assert_tables_equal_board(runtime, store.get_integration(integration.id), served)
    assert store.get_alert(alert.id).status == "resolved" and len(smtp.messages) == 1


def test_the_scheduler_alerts_ahead_of_a_credential_expiring_and_sends_the_email(
    served: Served, smtp: Inbox, mailing: Runtime
) -> None:
    runtime = mailing
    store = runtime.store
    account = store.default_account().id
    store.create_user(account, OWNER)
    integration = _bare_integration(runtime, account)
    expires = datetime.now(UTC) + timedelta(days=2)
    store.set_connection_secret(
        integration.snowflake_connection_id, {"token": OLD_PAT, "token_expires_at": expires.isoformat()}
    )
    service = Service(runtime)

    async def one_tick() -> None:
        stop = asyncio.Event()
        ticking = asyncio.create_task(service.run_scheduler(stop, every_seconds=60))
        for _ in range(200):
            if smtp.messages:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await ticking

    asyncio.run(one_tick())
    (alert,) = store.list_alerts(account, "open")
    assert (alert.cause, alert.connection_id) == (
        "credential_expiring",
        integration.snowflake_connection_id,
    )
    (message,) = smtp.messages
    assert "expires on" in message.get_content() and OLD_PAT not in message.get_content()
    # a warning neither pauses the queue nor disconnects anything yet
    assert not service.queue.stats(account).paused
    assert store.get_connection(integration.snowflake_connection_id).status == "connected"


def test_a_realtime_flush_that_meets_a_revoked_token_alerts_once_and_keeps_its_events(
    served: Served, smtp: Inbox, mailing: Runtime
) -> None:
    runtime = mailing
    store = runtime.store
    integration = create_integration(
        runtime, board_id=str(served.board.id), name="live", monday_token=TOKEN, monday_url=served.api_url
    )
    account = integration.account_id
    store.create_user(account, OWNER)
    service = Service(runtime)
    service.enqueue_run(integration)
    assert drain(service) == 1  # the first load, which real time starts from
    item = served.sandbox.active_items(served.board)[0]
    served.sandbox.revoke_token(TOKEN)
    applier = RealtimeApplier(runtime, service.enqueue_realtime_sync, service.alerter.on_realtime_failure)
    for n in range(3):  # monday keeps delivering; every flush fails the same way
        event = WebhookEvent(
            f"t-{n}", "update_column_value", str(served.board.id), str(item.id), None, "text", None
        )
        assert store.add_event(integration.id, event)
        result = asyncio.run(applier.flush(integration.id))
        assert result is not None and result.deferred is None

    (alert,) = store.list_alerts(account)
    assert (alert.cause, alert.connection_id, alert.occurrences) == (
        "monday_auth",
        integration.monday_connection_id,
        3,
    )
    assert store.get_connection(integration.monday_connection_id).status == "disconnected"
    (message,) = smtp.messages
    assert TOKEN not in message.get_content()
    assert len(store.pending_events(integration.id, 100)) == 3, "the events wait for the fix"


def test_a_missing_privilege_fails_its_integration_only_and_a_run_after_the_grant_resolves_it(
    served: Served, smtp: Inbox, mailing: Runtime
) -> None:
    runtime = mailing
    store = runtime.store
    target = runtime.settings.snowflake
    other_schema = target.schema_name + "_OTHER"
    blocked = create_integration(
        runtime, board_id=str(served.board.id), name="blocked", monday_token=TOKEN, monday_url=served.api_url
    )
    fine = create_integration(
        runtime,
        board_id=str(served.board.id),
        name="fine",
        monday_token=TOKEN,
        monday_url=served.api_url,
        schema=other_schema,
    )
    account = blocked.account_id
    store.create_user(account, OWNER)
    session = runtime.open_warehouse()
    try:
        schema = f"{quote_identifier(target.database)}.{quote_identifier(other_schema)}"
        session.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    finally:
        session.close()
    warehouse = EmbeddedWarehouse(runtime.settings.data_dir)
    warehouse.refuse("CREATE TABLE", target.database, target.schema_name)
    service = Service(runtime)
    failed = service.enqueue_run(blocked)
    ran = service.enqueue_run(fine)
    drain(service)

    assert service.queue.get(failed.task.id).status == "FAILED"
    assert service.queue.get(ran.task.id).status == "SUCCEEDED"  # the other integration went on
    assert not service.queue.stats(account).paused
    (alert,) = store.list_alerts(account, "open")
    assert (alert.cause, alert.integration_id) == ("snowflake_privilege", blocked.id)
    assert store.get_connection(blocked.snowflake_connection_id).status == "connected"

    warehouse.allow("CREATE TABLE", target.database, target.schema_name)  # the GRANT was run
    service.enqueue_run(blocked)
    assert drain(service) == 1
    assert store.list_alerts(account, "open") == []
    assert store.get_alert(alert.id).resolved_by == "a run succeeded"
    assert_tables_equal_board(runtime, store.get_integration(blocked.id), served)
    assert len(smtp.messages) == 1
