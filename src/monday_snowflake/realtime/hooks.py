"""Switching real-time sync on and off: the board webhooks it needs, registered and removed on monday.

The webhook URL carries a per-integration secret (`?token=`), checked on every delivery, because
webhooks made with a personal token carry no signature. Webhooks made with an app's token also carry
a JWT signed with the app's signing secret; `signed=True` makes the endpoint require it too.
Switching on again re-registers everything (the way to re-sync after webhooks were removed on monday).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from typing import TypeVar

from monday_snowflake.app.oauth import monday_credentials, token_renewer
from monday_snowflake.errors import ConfigurationError, MondaySnowflakeError
from monday_snowflake.logs import get_logger
from monday_snowflake.model import Integration
from monday_snowflake.monday.client import MondayClient
from monday_snowflake.runtime import Runtime

log = get_logger(__name__)
T = TypeVar("T")

ITEM_WEBHOOKS = (
    "create_item",
    "change_column_value",
    "change_name",
    "item_archived",
    "item_deleted",
    "item_restored",
    "create_column",
)
SUBITEM_STRUCTURE_WEBHOOKS = ("create_subitem", "subitem_archived", "subitem_deleted")
"""Registered even when subitems are not copied: they change the parent's row (its subitems column)."""
SUBITEM_WEBHOOKS = ("change_subitem_column_value", "change_subitem_name")
MAX_URL_LENGTH = 255


def webhook_url(public_url: str, integration_id: str, secret: str) -> str:
    return f"{public_url.rstrip('/')}/webhooks/monday/{integration_id}?token={secret}"


def enable(runtime: Runtime, integration: Integration, *, signed: bool = False) -> list[dict[str, str]]:
    """Register the integration's webhooks on its board (removing any it had) and switch real-time
    on. All or nothing: if one registration fails, those made are removed and real-time stays off."""
    public_url = runtime.settings.public_url
    if not public_url:
        raise ConfigurationError(
            "real-time sync needs the address monday reaches this service at: "
            "set MONDAY_SNOWFLAKE_PUBLIC_URL",
            field="public_url",
        )
    if signed and runtime.settings.monday.signing_secret is None:
        raise ConfigurationError(
            "signed webhooks need the app's signing secret: set MONDAY_SNOWFLAKE_MONDAY__SIGNING_SECRET",
            field="signed",
        )
    store = runtime.store
    current = store.realtime(integration.id)
    secret = current.secret or secrets.token_urlsafe(24)
    url = webhook_url(public_url, integration.id, secret)
    if len(url) > MAX_URL_LENGTH:
        raise ConfigurationError(
            f"the webhook URL would be {len(url)} characters; monday takes at most {MAX_URL_LENGTH}: "
            "use a shorter MONDAY_SNOWFLAKE_PUBLIC_URL",
            field="public_url",
        )
    # Off while registering: monday's challenge is answered (the secret is known), events are not kept.
    store.set_realtime(integration.id, enabled=False, signed=signed, webhooks=[], secret=secret)
    events = (
        ITEM_WEBHOOKS
        + SUBITEM_STRUCTURE_WEBHOOKS
        + (SUBITEM_WEBHOOKS if integration.options.include_subitems else ())
    )
    created = asyncio.run(_register(runtime, integration, url, events, [h["id"] for h in current.webhooks]))
    store.set_realtime(integration.id, enabled=True, signed=signed, webhooks=created, secret=secret)
    log.info("real-time on", integration_id=integration.id, webhooks=len(created))
    return created


def disable(runtime: Runtime, integration: Integration) -> None:
    """Remove the integration's webhooks from monday and switch real-time off. The URL secret is kept,
    so deliveries monday still retries are recognised (and dropped) rather than refused."""
    current = runtime.store.realtime(integration.id)
    if current.webhooks:
        ids = [h["id"] for h in current.webhooks]
        asyncio.run(_with_client(runtime, integration, lambda client: _delete_all(client, ids)))
    runtime.store.set_realtime(
        integration.id, enabled=False, signed=current.signed, webhooks=[], secret=current.secret
    )
    log.info("real-time off", integration_id=integration.id)


async def _register(
    runtime: Runtime, integration: Integration, url: str, events: tuple[str, ...], old: list[str]
) -> list[dict[str, str]]:
    async def work(client: MondayClient) -> list[dict[str, str]]:
        await _delete_all(client, old)
        created: list[dict[str, str]] = []
        try:
            for event in events:
                webhook_id = await client.create_webhook(integration.board_id, url, event)
                created.append({"id": webhook_id, "event": event})
        except BaseException:
            await _delete_all(client, [h["id"] for h in created])
            raise
        return created

    return await _with_client(runtime, integration, work)


async def _delete_all(client: MondayClient, webhook_ids: list[str]) -> None:
    for webhook_id in webhook_ids:
        try:
            await client.delete_webhook(webhook_id)
        except MondaySnowflakeError as exc:  # removing is best effort: say so, go on
            log.warning("could not remove a webhook on monday", webhook_id=webhook_id, error=str(exc))


async def _with_client(
    runtime: Runtime, integration: Integration, work: Callable[[MondayClient], Awaitable[T]]
) -> T:
    token, api_url = await asyncio.to_thread(
        monday_credentials, runtime.settings, runtime.store, integration.monday_connection_id
    )
    renew = token_renewer(runtime.settings, runtime.store, integration.monday_connection_id)
    async with runtime.monday_client(token, api_url, renew) as client:
        return await work(client)
