"""Board webhooks: the challenge handshake, monday's payload shapes, async delivery and retries.

Every `ChangeEvent` the sandbox emits is matched against the board's webhooks (event + config) and
turned into a payload at once (so `previousValue` is what it was then). A background thread posts
it; a failure is retried once a minute (sandbox clock) for 30 minutes. Tests drive retries with
`clock.advance(60)` and `deliver_due()`. Webhooks created with an app token carry an
`Authorization` JWT signed (HS256) with the app's signing secret.
"""

from __future__ import annotations

import logging
import secrets
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import jwt

from monday_sandbox import columns
from monday_sandbox.errors import SandboxError, invalid_argument
from monday_sandbox.model import Board, ChangeEvent, Item, Token, Webhook
from monday_sandbox.state import Sandbox

log = logging.getLogger(__name__)

RETRY_EVERY = timedelta(seconds=60)
RETRY_FOR = timedelta(minutes=30)
MAX_URL_LENGTH = 255
KEEP_DELIVERIES = 10_000

_EVENT_TYPES = {
    "create_item": "create_pulse",
    "change_column_value": "update_column_value",
    "change_name": "update_name",
    "item_archived": "archive_pulse",
    "item_deleted": "delete_pulse",
    "item_restored": "restore_pulse",
    "create_column": "create_column",
}
# subscription event -> (sandbox event kind, for subitems?)
_SUBSCRIPTIONS: dict[str, tuple[str, bool]] = {
    "create_item": ("create_item", False),
    "create_subitem": ("create_item", True),
    "change_column_value": ("change_column_value", False),
    "change_specific_column_value": ("change_column_value", False),
    "change_status_column_value": ("change_column_value", False),
    "change_subitem_column_value": ("change_column_value", True),
    "change_name": ("change_name", False),
    "change_subitem_name": ("change_name", True),
    "item_archived": ("item_archived", False),
    "subitem_archived": ("item_archived", True),
    "item_deleted": ("item_deleted", False),
    "subitem_deleted": ("item_deleted", True),
    "item_restored": ("item_restored", False),
    "create_column": ("create_column", False),
}


@dataclass
class Attempt:
    at: str
    status_code: int | None
    error: str | None
    retry_count: int


@dataclass
class Delivery:
    """One payload for one webhook, and every attempt to post it."""

    id: int
    webhook_id: int
    url: str
    event: str
    payload: dict[str, Any]
    app_token: bool
    user_id: int
    account_id: int
    first_at: datetime
    next_attempt_at: datetime | None
    status: str = "pending"  # pending | delivered | failed
    attempts: list[Attempt] = field(default_factory=list)

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "webhook_id": self.webhook_id,
            "url": self.url,
            "event": self.event,
            "status": self.status,
            "payload": self.payload,
            "attempts": [a.__dict__ for a in self.attempts],
            "next_attempt_at": self.next_attempt_at.isoformat() if self.next_attempt_at else None,
        }


class WebhookService:
    """Creates webhooks (with the challenge) and delivers the events that match them."""

    def __init__(
        self,
        sandbox: Sandbox,
        *,
        client: httpx.Client | None = None,
        background: bool = True,
        poll_seconds: float = 0.5,
    ) -> None:
        self.sandbox = sandbox
        self.client = client or httpx.Client(timeout=10.0)
        self.deliveries: deque[Delivery] = deque(maxlen=KEEP_DELIVERIES)
        self._serial = 0
        self._deliver_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._poll = poll_seconds
        self._thread: threading.Thread | None = None
        sandbox.listeners.append(self.on_event)
        if background:
            self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
            self._thread.start()

    # ----------------------------------------------------------------- create
    def create(self, board: Board, url: str, event: str, config: Any, token: Token) -> Webhook:
        if len(url) > MAX_URL_LENGTH or not url.startswith(("http://", "https://")):
            raise invalid_argument("Invalid webhook URL", url=url)
        if config is not None and not isinstance(config, dict):
            raise invalid_argument("config must be a JSON object", config=config)
        if event == "change_specific_column_value" and not (config or {}).get("columnId"):
            raise invalid_argument("change_specific_column_value needs config.columnId", event=event)
        self._challenge(url)
        hook = Webhook(
            id=self.sandbox.data.ids["webhook"](),
            board_id=board.id,
            url=url,
            event=event,
            config=config,
            app_token=token.kind == "app",
            user_id=token.user_id,
            account_id=token.account_id,
        )
        self.sandbox.data.webhooks[hook.id] = hook
        return hook

    def _challenge(self, url: str) -> None:
        challenge = secrets.token_urlsafe(24)
        try:
            response = self.client.post(url, json={"challenge": challenge}, timeout=10.0)
            echoed = response.json().get("challenge") if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError, AttributeError):
            echoed = None
        if echoed != challenge:
            raise SandboxError(
                "Failed to communicate with URL provided.",
                "InvalidArgumentException",
                error_data={"url": url, "reason": "the URL did not echo the challenge"},
            )

    # ----------------------------------------------------------------- events -> deliveries
    def on_event(self, event: ChangeEvent) -> None:
        hooks = list(self.sandbox.data.webhooks.values())
        if not hooks:
            return
        board = self.sandbox.data.boards.get(event.board_id)
        if board is None:
            return
        item = self.sandbox.data.items.get(event.item_id) if event.item_id else None
        is_sub = item is not None and item.parent_item_id is not None
        main_board_id = board.parent_board_id if is_sub and board.parent_board_id else board.id
        trigger_uuid = uuid.uuid4().hex
        for hook in hooks:
            wanted = _SUBSCRIPTIONS.get(hook.event)
            if wanted is None or wanted != (event.kind, is_sub) or hook.board_id != main_board_id:
                continue
            if not _config_matches(hook, event, board):
                continue
            payload = self._payload(hook, event, board, item, trigger_uuid)
            self._enqueue(hook, payload)
        self._wake.set()

    def _payload(
        self, hook: Webhook, event: ChangeEvent, board: Board, item: Item | None, trigger_uuid: str
    ) -> dict[str, Any]:
        kind = _EVENT_TYPES[event.kind]
        body: dict[str, Any] = {
            "app": "monday",
            "type": kind,
            "triggerTime": event.at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{event.at.microsecond // 1000:03d}Z",
            "subscriptionId": hook.id,
            "isRetry": False,
            "userId": event.user_id,
            "originalTriggerUuid": None,
            "boardId": board.id,
        }
        if event.kind == "create_column":
            column = board.columns.get(event.column_id or "")
            body.update(
                accountId=self.sandbox.account.id,
                entity="board",
                columnId=event.column_id,
                columnTitle=column.title if column else None,
                columnType=columns.legacy_type_name(column.type) if column else None,
                createdAt=event.at.timestamp(),
            )
        elif item is not None:
            group = board.groups.get(item.group_id)
            top_group = next(iter(board.groups), None) == item.group_id
            if event.kind in ("item_archived", "item_deleted", "item_restored"):
                body.update(itemId=item.id, itemName=item.name)
                if event.kind == "item_restored":
                    body.update(value={"state": 1, "is_undo": True}, previousValue={"state": 2})
                if item.parent_item_id:
                    body.update(
                        pulseId=item.id,
                        parentItemId=str(item.parent_item_id),
                        parentBoardId=str(board.parent_board_id),
                    )
            else:
                body.update(pulseId=item.id, pulseName=item.name, groupId=item.group_id, isTopGroup=top_group)
                if event.kind == "create_item":
                    body.update(
                        groupName=group.title if group else None,
                        groupColor=group.color if group else None,
                        columnValues={},
                    )
                elif event.kind == "change_name":
                    body.update(value={"name": event.name}, previousValue={"name": event.previous_name})
                else:
                    column = board.columns[event.column_id or ""]
                    body.update(
                        columnId=column.id,
                        columnType=columns.legacy_type_name(column.type),
                        columnTitle=column.title,
                        value=columns.webhook_value(column, event.value, self.sandbox, item),
                        previousValue=columns.webhook_value(column, event.previous_value, self.sandbox, item),
                        changedAt=event.at.timestamp(),
                    )
                if item.parent_item_id:
                    body.update(
                        itemId=item.id,
                        parentItemId=str(item.parent_item_id),
                        parentItemBoardId=str(board.parent_board_id),
                    )
        body["triggerUuid"] = trigger_uuid
        return {"event": body}

    def _enqueue(self, hook: Webhook, payload: dict[str, Any]) -> None:
        now = self.sandbox.clock.now()
        with self._deliver_lock:
            self._serial += 1
            self.deliveries.append(
                Delivery(
                    id=self._serial,
                    webhook_id=hook.id,
                    url=hook.url,
                    event=hook.event,
                    payload=payload,
                    app_token=hook.app_token,
                    user_id=hook.user_id,
                    account_id=hook.account_id,
                    first_at=now,
                    next_attempt_at=now,
                )
            )

    # ----------------------------------------------------------------- delivery
    def deliver_due(self) -> int:
        """Post every pending delivery whose time has come; returns how many were attempted."""
        with self._deliver_lock:
            now = self.sandbox.clock.now()
            due = [
                d
                for d in self.deliveries
                if d.status == "pending" and d.next_attempt_at and d.next_attempt_at <= now
            ]
            for delivery in due:
                self._attempt(delivery, now)
            return len(due)

    def _attempt(self, delivery: Delivery, now: datetime) -> None:
        retry_count = len(delivery.attempts)
        payload = delivery.payload
        if retry_count:
            payload = {"event": {**payload["event"], "isRetry": True, "retryCount": retry_count}}
        headers = {"Content-Type": "application/json", "User-Agent": "monday-sandbox-webhooks"}
        if delivery.app_token:
            headers["Authorization"] = self.sign(delivery.url, delivery.user_id, delivery.account_id, now)
        status: int | None = None
        error: str | None = None
        try:
            response = self.client.post(delivery.url, json=payload, headers=headers, timeout=10.0)
            status = response.status_code
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        delivery.attempts.append(Attempt(now.isoformat(), status, error, retry_count))
        if status is not None and 200 <= status < 300:
            delivery.status = "delivered"
            delivery.next_attempt_at = None
        elif now + RETRY_EVERY - delivery.first_at > RETRY_FOR:
            delivery.status = "failed"
            delivery.next_attempt_at = None
        else:
            delivery.next_attempt_at = now + RETRY_EVERY

    def sign(self, url: str, user_id: int, account_id: int, now: datetime | None = None) -> str:
        """The delivery's `Authorization` JWT; `iat`/`exp` come from the sandbox clock."""
        issued = int((now or self.sandbox.clock.now()).timestamp())
        claims = {"accountId": account_id, "userId": user_id, "aud": url, "iat": issued, "exp": issued + 300}
        return jwt.encode(claims, self.sandbox.settings.signing_secret, algorithm="HS256")

    def listing(self) -> list[dict[str, Any]]:
        with self._deliver_lock:
            return [d.public() for d in self.deliveries]

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._poll)
            self._wake.clear()
            try:
                self.deliver_due()
            except Exception:  # the loop must survive anything a receiver does
                log.exception("webhook delivery loop failed")

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.client.close()


def _config_matches(hook: Webhook, event: ChangeEvent, board: Board) -> bool:
    config = hook.config or {}
    if hook.event == "change_specific_column_value":
        return bool(config.get("columnId") == event.column_id)
    if hook.event == "change_status_column_value":
        column = board.columns.get(event.column_id or "")
        if column is None or column.type != "status":
            return False
        if config.get("columnId") and config["columnId"] != event.column_id:
            return False
        wanted = config.get("columnValue") or {"$any$": True}
        if wanted.get("$any$"):
            return True
        index = event.value.get("index") if isinstance(event.value, dict) else None
        return bool(index == wanted.get("index"))
    return True


Listener = Callable[[ChangeEvent], None]
