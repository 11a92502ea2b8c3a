"""Alerts in the state store, on SQLite and PostgreSQL: one open alert per problem, resolving it
recovers the work, and the email outbox records every attempt."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from monday_snowflake.errors import CAUSES, AuthenticationError, InvalidDataError, NotFoundError
from monday_snowflake.model import Integration
from monday_snowflake.notify.alerts import Alerter, credential_expiry, jwt_expiry
from monday_snowflake.notify.email import redact
from monday_snowflake.queue.handlers import classify
from monday_snowflake.queue.records import ClaimedTask
from monday_snowflake.queue.tasks import TaskQueue
from monday_snowflake.settings import QueueSettings, Settings
from monday_snowflake.store import Store
from monday_snowflake.store.alerts import EmailDraft

EXPIRED = CAUSES["snowflake_token_expired"]
COLUMN = CAUSES["column_value"]
SNOWFLAKE_TOKEN = "pat-s3cr3t-value-0123456789"
DRAFT = EmailDraft(("ops@example.com",), "[monday-snowflake] token expired", "What failed: ...\n")


def make_integration(store: Store, account_id: str | None = None, name: str = "orders") -> Integration:
    account_id = account_id or store.create_account("acme").id
    monday = store.create_connection(account_id, "monday", f"m-{name}", {"api_url": "x"}, {"token": "m-tok"})
    snow = store.create_connection(
        account_id, "snowflake", f"s-{name}", {"account": "a"}, {"token": SNOWFLAKE_TOKEN}
    )
    return store.create_integration(
        account_id=account_id,
        name=name,
        board_id="1234567890",
        monday_connection_id=monday.id,
        snowflake_connection_id=snow.id,
        target_database="MONDAY",
        target_schema="PUBLIC",
        target_table="ORDERS",
    )


def failed_tasks(queue: TaskQueue, integration: Integration, count: int) -> list[ClaimedTask]:
    """`count` sync tasks of the integration, claimed and failed for good."""
    for n in range(count):
        queue.enqueue(integration.account_id, "sync", {"integration_id": integration.id, "n": n})
    claimed = queue.claim("w1", limit=count)
    assert len(claimed) == count
    for task in claimed:
        queue.fail(task.id, task.lease_token, "token expired", retry=False)
    return claimed


def test_repeats_of_a_problem_bump_one_alert_and_write_one_email(store: Store) -> None:
    integration = make_integration(store)
    account = integration.account_id
    results = [
        store.raise_alert(
            account,
            EXPIRED,
            f"expired ({n})",
            integration_id=integration.id,
            connection_id=integration.snowflake_connection_id,
            task_id=f"task-{n}",
            correlation_id=f"cid-{n}",
            paused_queue=True,
            email=DRAFT,
        )
        for n in range(3)
    ]
    assert [created for _, created in results] == [True, False, False]
    assert len({alert.id for alert, _ in results}) == 1
    alerts = store.list_alerts(account)
    assert len(alerts) == 1
    alert = alerts[0]
    assert (alert.occurrences, alert.status, alert.cause, alert.kind) == (
        3,
        "open",
        EXPIRED.name,
        "permanent",
    )
    assert alert.message == "expired (2)" and alert.correlation_id == "cid-2"
    assert alert.last_seen >= alert.first_seen
    assert alert.action == EXPIRED.action
    outbox = store.list_outbox(account)
    assert [(e.subject, e.recipients, e.status, e.alert_id) for e in outbox] == [
        (DRAFT.subject, DRAFT.recipients, "pending", alert.id)
    ]
    # a credential problem disconnects the connection
    assert store.get_connection(integration.snowflake_connection_id).status == "disconnected"
    assert store.get_connection(integration.monday_connection_id).status == "connected"
    assert store.open_alert_counts() == {EXPIRED.name: 1}


def test_other_causes_and_other_integrations_get_their_own_alert(store: Store) -> None:
    first = make_integration(store, name="a")
    second = make_integration(store, account_id=first.account_id, name="b")
    for integration in (first, second):
        store.raise_alert(integration.account_id, COLUMN, "bad value", integration_id=integration.id)
    store.raise_alert(
        first.account_id,
        EXPIRED,
        "expired",
        integration_id=first.id,
        connection_id=first.snowflake_connection_id,
    )
    # the same credential problem reached through another integration of the same connection: one alert
    _, created = store.raise_alert(
        first.account_id,
        EXPIRED,
        "expired",
        integration_id=second.id,
        connection_id=first.snowflake_connection_id,
    )
    assert not created
    assert sorted((a.cause, a.integration_id) for a in store.list_alerts(first.account_id)) == sorted(
        [(COLUMN.name, first.id), (COLUMN.name, second.id), (EXPIRED.name, first.id)]
    )
    assert store.open_alert_counts() == {COLUMN.name: 2, EXPIRED.name: 1}


def test_concurrent_failures_open_exactly_one_alert(store: Store) -> None:
    integration = make_integration(store)

    def fail(n: int) -> bool:
        _, created = store.raise_alert(
            integration.account_id,
            EXPIRED,
            "expired",
            integration_id=integration.id,
            connection_id=integration.snowflake_connection_id,
            task_id=f"t{n}",
            email=DRAFT,
        )
        return created

    with ThreadPoolExecutor(8) as pool:
        created = list(pool.map(fail, range(16)))
    assert created.count(True) == 1
    (alert,) = store.list_alerts(integration.account_id)
    assert alert.occurrences == 16
    assert len(store.list_outbox(integration.account_id)) == 1


def test_new_credentials_resolve_the_alert_requeue_the_work_and_resume_the_queue(store: Store) -> None:
    integration = make_integration(store)
    account = integration.account_id
    queue = TaskQueue(store.engine, QueueSettings(backoff_base_seconds=0))
    tasks = failed_tasks(queue, integration, 2)
    waiting = queue.enqueue(account, "sync", {"integration_id": integration.id, "n": "later"})
    queue.pause(account)
    for task in tasks:
        store.raise_alert(
            account,
            EXPIRED,
            "expired",
            integration_id=integration.id,
            connection_id=integration.snowflake_connection_id,
            task_id=task.id,
            paused_queue=True,
        )
    assert queue.claim("w2") == []  # paused: the waiting task stays put

    store.set_connection_secret(integration.snowflake_connection_id, {"token": "pat-new"}, account_id=account)

    (alert,) = store.list_alerts(account)
    assert (alert.status, alert.resolved_by) == ("resolved", "new credentials")
    assert alert.resolved_at is not None
    assert store.list_alerts(account, "open") == []
    assert store.get_connection(integration.snowflake_connection_id).status == "connected"
    assert not queue.stats(account).paused
    for task in tasks:
        again = queue.get(task.id)
        # queued again with a fresh set of attempts; the count goes on (the handler sees attempt 2)
        assert (again.status, again.attempts, again.max_attempts) == ("QUEUED", 1, 1 + task.max_attempts)
    assert {t.id for t in queue.claim("w2", limit=10)} == {tasks[0].id, tasks[1].id, waiting.id}
    # the same problem coming back is a new alert, with a new email
    _, created = store.raise_alert(
        account, EXPIRED, "again", connection_id=integration.snowflake_connection_id, email=DRAFT
    )
    assert created


def test_the_queue_stays_paused_while_another_pausing_alert_is_open(store: Store) -> None:
    integration = make_integration(store)
    account = integration.account_id
    queue = TaskQueue(store.engine)
    queue.pause(account)
    monday = CAUSES["monday_auth"]
    for cause, connection in (
        (EXPIRED, integration.snowflake_connection_id),
        (monday, integration.monday_connection_id),
    ):
        store.raise_alert(
            account, cause, "no", integration_id=integration.id, connection_id=connection, paused_queue=True
        )
    store.set_connection_secret(integration.snowflake_connection_id, {"token": "new"})
    assert queue.stats(account).paused
    assert [a.cause for a in store.list_alerts(account, "open")] == [monday.name]
    store.set_connection_secret(integration.monday_connection_id, {"token": "new-monday"})
    assert not queue.stats(account).paused


def test_changing_the_integration_resolves_its_mapping_alerts_but_not_credential_ones(store: Store) -> None:
    integration = make_integration(store)
    account = integration.account_id
    store.raise_alert(account, COLUMN, "bad value", integration_id=integration.id)
    store.raise_alert(
        account,
        EXPIRED,
        "expired",
        integration_id=integration.id,
        connection_id=integration.snowflake_connection_id,
    )
    store.update_integration(integration.id, account_id=account, target_table="ORDERS_V2")
    by_cause = {a.cause: a for a in store.list_alerts(account)}
    assert (by_cause[COLUMN.name].status, by_cause[COLUMN.name].resolved_by) == (
        "resolved",
        "integration updated",
    )
    assert by_cause[EXPIRED.name].status == "open"


def test_resolving_by_hand_is_scoped_to_the_account(store: Store) -> None:
    mine = make_integration(store, name="mine")
    theirs = make_integration(store, name="theirs")
    alert, _ = store.raise_alert(theirs.account_id, COLUMN, "bad", integration_id=theirs.id)
    with pytest.raises(NotFoundError):
        store.resolve_alert(alert.id, mine.account_id)
    assert store.list_alerts(mine.account_id) == []
    assert store.get_alert(alert.id).status == "open"
    resolved = store.resolve_alert(alert.id, theirs.account_id)
    assert (resolved.status, resolved.resolved_by) == ("resolved", "api")
    again = store.resolve_alert(alert.id, theirs.account_id)
    assert again.resolved_at == resolved.resolved_at
    assert store.list_alerts(theirs.account_id, "resolved")[0].id == alert.id


def test_the_outbox_records_every_attempt(store: Store) -> None:
    account = store.create_account("acme").id
    email = store.add_email(account, DRAFT)
    assert [e.id for e in store.due_emails()] == [email.id]
    assert store.claim_email(email.id, lease_seconds=60)
    assert not store.claim_email(email.id, lease_seconds=60)  # taken: a concurrent sender skips it
    assert store.due_emails() == []
    email = store.add_email(account, DRAFT)
    retried = store.record_email_attempt(email.id, "pending", error="SMTP down", retry_in=3600)
    assert (retried.attempts, retried.last_error, retried.status) == (1, "SMTP down", "pending")
    assert store.due_emails() == []  # not due for an hour
    sent = store.record_email_attempt(email.id, "sent")
    assert (sent.attempts, sent.status, sent.last_error) == (2, "sent", None)
    assert sent.sent_at is not None
    assert store.record_email_attempt(email.id, "failed", error="late") == sent  # no longer pending


def test_a_task_failing_with_an_expired_token_alerts_pauses_and_disconnects(
    store: Store, tmp_path: object
) -> None:
    """The alerter, on real store and queue: what the worker's failure hook does."""
    integration = make_integration(store)
    account = integration.account_id
    store.create_user(account, "owner@example.com")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    queue = TaskQueue(store.engine)
    alerter = Alerter(store, queue, settings)
    error = AuthenticationError(f"Snowflake: token {SNOWFLAKE_TOKEN} is expired", cause=EXPIRED.name)
    outcome = classify(error, pause_on=())  # as if the worker had not paused: the cause does it
    tasks = failed_tasks(queue, integration, 3)
    opened = [alerter.record_failure(task, outcome, f"cid{n}") for n, task in enumerate(tasks)]
    assert [a is not None for a in opened] == [True, False, False]
    (alert,) = store.list_alerts(account)
    assert alert.occurrences == 3 and alert.paused_queue
    assert alert.connection_id == integration.snowflake_connection_id
    assert SNOWFLAKE_TOKEN not in alert.message and "***" in alert.message
    assert queue.stats(account).paused
    assert store.get_connection(integration.snowflake_connection_id).status == "disconnected"
    (email,) = store.list_outbox(account)
    assert email.recipients == ("owner@example.com",)
    assert SNOWFLAKE_TOKEN not in email.body
    assert EXPIRED.action in email.body and "orders" in email.body and "cid0" in email.body
    # a mapping problem neither pauses nor disconnects
    bad_value = InvalidDataError("monday API error: invalid value (ColumnValueException)", cause=COLUMN.name)
    queue.resume(account)
    (task,) = failed_tasks(queue, integration, 1)
    assert alerter.record_failure(task, classify(bad_value), "cid9") is not None
    assert store.get_connection(integration.monday_connection_id).status == "connected"
    assert not queue.stats(account).paused
    assert store.open_alert_counts() == {EXPIRED.name: 1, COLUMN.name: 1}


def test_credentials_about_to_expire_are_alerted_once(store: Store) -> None:
    integration = make_integration(store)
    account = integration.account_id
    now = datetime(2026, 12, 4, tzinfo=UTC)
    soon = (now + timedelta(days=3)).isoformat()
    store.set_connection_secret(
        integration.snowflake_connection_id, {"token": SNOWFLAKE_TOKEN, "token_expires_at": soon}
    )
    later = now + timedelta(days=30)
    monday_jwt = _jwt({"exp": int(later.timestamp())})
    store.set_connection_secret(integration.monday_connection_id, {"token": monday_jwt})
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    alerter = Alerter(store, TaskQueue(store.engine), settings)
    opened = alerter.check_expiring_credentials(now)
    assert [(a.cause, a.connection_id) for a in opened] == [
        ("credential_expiring", integration.snowflake_connection_id)
    ]
    assert "in 3.0 days" in opened[0].message
    assert alerter.check_expiring_credentials(now) == []  # still open: not again
    assert len(store.list_outbox(account)) == 1
    # 30 days out is outside the default 7-day window, until it is not
    assert [a.connection_id for a in alerter.check_expiring_credentials(later - timedelta(days=2))] == [
        integration.monday_connection_id
    ]
    # a new token resolves the warning
    store.set_connection_secret(integration.snowflake_connection_id, {"token": "pat-new"})
    assert {a.connection_id for a in store.list_alerts(account, "open")} == {integration.monday_connection_id}
    # a token that renews itself (OAuth with a refresh token) never warns, however soon it expires
    renewing = {"token": _jwt({"exp": int(now.timestamp()) + 600}), "refresh_token": "r", "expires_at": soon}
    store.set_connection_secret(integration.monday_connection_id, renewing)
    assert alerter.check_expiring_credentials(now) == []


def _jwt(claims: dict[str, object]) -> str:
    import base64
    import json

    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none'})}.{part(claims)}.sig"


def test_expiry_is_read_from_config_secret_or_jwt() -> None:
    when = datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert credential_expiry({"token_expires_at": "2027-01-02T03:04:05Z"}, {}) == when
    assert credential_expiry({}, {"token_expires_at": "2027-01-02T03:04:05+00:00"}) == when
    assert credential_expiry({}, {"token": _jwt({"exp": int(when.timestamp())})}) == when
    assert credential_expiry({}, {"token": "opaque-pat"}) is None
    assert jwt_expiry("a.b.c") is None
    assert jwt_expiry(_jwt({"sub": "x"})) is None


def test_redaction_removes_known_secrets_and_token_shapes() -> None:
    jwt = _jwt({"exp": 1})
    text = (
        f"login with {SNOWFLAKE_TOKEN} failed; Authorization: Bearer abcdefgh12345678; jwt {jwt}; "
        "password=hunter2hunter2"
    )
    redacted = redact(text, [SNOWFLAKE_TOKEN])
    for secret in (SNOWFLAKE_TOKEN, "abcdefgh12345678", jwt, "hunter2hunter2"):
        assert secret not in redacted
    assert redacted.startswith("login with *** failed")
    assert redact("board 1234567890, item 42", ["m"]) == "board 1234567890, item 42"
