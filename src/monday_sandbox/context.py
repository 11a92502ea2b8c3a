"""What a resolver sees of the request it runs in: the sandbox, the caller and per-request caches."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from monday_sandbox.complexity import BudgetReport
from monday_sandbox.model import Token, User
from monday_sandbox.paging import CursorStore
from monday_sandbox.state import Sandbox

if TYPE_CHECKING:
    from monday_sandbox.webhooks import WebhookService


@dataclass
class RequestContext:
    sandbox: Sandbox
    token: Token
    user: User
    cursors: CursorStore
    webhooks: WebhookService | None = None
    api_version: str = "2026-10"
    budget: BudgetReport | None = None
    hidden_boards: frozenset[int] = frozenset()
    """Boards the caller can't access (the `hidden_boards` fault knob): reads skip them."""
    cache: dict[Any, Any] = field(default_factory=dict)
