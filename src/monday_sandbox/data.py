"""The sandbox's settings and its persistent data: entities plus id counters, with no locks or threads."""

from __future__ import annotations

from dataclasses import dataclass, field

from monday_sandbox.model import Account, Board, Ids, Item, Tag, Team, Token, User, Webhook, Workspace


@dataclass
class SandboxSettings:
    """Knobs of one sandbox instance."""

    complexity_budget: int = 10_000_000
    """Complexity points per token per minute (personal tokens; app tokens get this per read/write)."""
    query_complexity_limit: int = 5_000_000
    """Largest cost a single query may have."""
    minute_rate_limit: int = 5_000
    """Requests per token per minute reported in the `minuteRate` RateLimit entry (Enterprise's
    figure; reported, not enforced)."""
    concurrency_limit: int = 250
    """Concurrent requests reported in the `concurrency` RateLimit entry (reported, not enforced)."""
    oauth_client_id: str = "sandbox-client-id"
    oauth_client_secret: str = "sandbox-client-secret-for-local-oauth-apps"  # noqa: S105 - a fixed sandbox value, not a secret
    signing_secret: str = "sandbox-signing-secret-for-local-webhooks"  # noqa: S105
    """The app's signing secret: webhook JWTs created with app tokens are signed with it."""


@dataclass
class SandboxData:
    """Everything that persists: entities and id counters (picklable, no locks or threads)."""

    account: Account
    ids: dict[str, Ids]
    users: dict[int, User] = field(default_factory=dict)
    teams: dict[int, Team] = field(default_factory=dict)
    tags: dict[int, Tag] = field(default_factory=dict)
    workspaces: dict[int, Workspace] = field(default_factory=dict)
    boards: dict[int, Board] = field(default_factory=dict)
    items: dict[int, Item] = field(default_factory=dict)
    webhooks: dict[int, Webhook] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)


def new_data() -> SandboxData:
    return SandboxData(
        account=Account(id=18_000_001, name="Sandbox Account", slug="sandbox"),
        ids={
            "user": Ids(60_000_001),
            "team": Ids(1_100_001),
            "tag": Ids(21_000_001),
            "workspace": Ids(5_000_001),
            "board": Ids(1_800_000_001),
            "item": Ids(4_000_000_001),
            "webhook": Ids(300_000_001),
            "column": Ids(1),
            "group": Ids(1),
        },
    )


def column_suffix(n: int) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    out = ""
    n = n * 7919 + 104729
    for _ in range(6):
        n, r = divmod(n, len(alphabet))
        out += alphabet[r]
    return out
