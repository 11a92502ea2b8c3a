"""Encryption of credentials at rest: Fernet tokens, with key rotation.

Keys come from settings (`MONDAY_SNOWFLAKE_SECRET_KEY`, several comma-separated to rotate: the
first encrypts, all decrypt) or from `<data_dir>/secret.key`, created once with mode 0600.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr

from monday_snowflake.errors import ConfigurationError
from monday_snowflake.settings import Settings

KEY_FILE_NAME = "secret.key"


class SecretBox:
    """Turns a dict of secrets into an opaque token and back. Never logs or shows what it holds."""

    def __init__(self, keys: Iterable[str | bytes | SecretStr]) -> None:
        fernets: list[Fernet] = []
        for key in keys:
            raw = key.get_secret_value() if isinstance(key, SecretStr) else key
            raw = raw.strip() if isinstance(raw, bytes) else raw.strip().encode()
            try:
                fernets.append(Fernet(raw))
            except (ValueError, TypeError):
                raise ConfigurationError(
                    "the secret key is not a valid Fernet key (32 url-safe base64-encoded bytes); "
                    "generate one with `python -c 'from cryptography.fernet import Fernet; "
                    "print(Fernet.generate_key().decode())'`"
                ) from None
        if not fernets:
            raise ConfigurationError("no secret key given")
        self._fernet = MultiFernet(fernets)

    @classmethod
    def generate(cls) -> SecretBox:
        """A box with a fresh random key (tests, first start)."""
        return cls([Fernet.generate_key()])

    def __repr__(self) -> str:
        return "SecretBox(<keys hidden>)"

    def encrypt(self, secret: dict[str, Any]) -> str:
        """An opaque, authenticated token holding `secret` (JSON-serialisable values)."""
        return self._fernet.encrypt(json.dumps(secret, separators=(",", ":")).encode()).decode("ascii")

    def decrypt(self, token: str | bytes) -> dict[str, Any]:
        """The dict that `encrypt` was given. Raises ConfigurationError if no key of ours made `token`."""
        data = token.encode("ascii") if isinstance(token, str) else token
        try:
            plain = self._fernet.decrypt(data)
        except InvalidToken:
            raise ConfigurationError(
                "stored credentials could not be decrypted: they were encrypted with a different key "
                "(check MONDAY_SNOWFLAKE_SECRET_KEY or <data_dir>/secret.key)"
            ) from None
        value = json.loads(plain)
        if not isinstance(value, dict):
            raise ConfigurationError("stored credentials are not a JSON object")
        return value

    def rotate(self, token: str | bytes) -> str:
        """`token` re-encrypted with the first (newest) key."""
        data = token.encode("ascii") if isinstance(token, str) else token
        try:
            return self._fernet.rotate(data).decode("ascii")
        except InvalidToken:
            raise ConfigurationError(
                "stored credentials could not be decrypted: they were encrypted with a different key"
            ) from None


def load_or_create_key(settings: Settings) -> SecretBox:
    """The box for these settings: `settings.secret_key` if set, else the key file in the data directory.

    The key file is created once, readable by its owner only, and atomically (two processes starting
    together end up with the same key).
    """
    if settings.secret_key is not None:
        keys = [k for k in settings.secret_key.get_secret_value().split(",") if k.strip()]
        return SecretBox(keys)
    path = Path(settings.data_dir) / KEY_FILE_NAME
    if not path.exists():
        _create_key_file(path)
    try:
        key = path.read_bytes().strip()
    except OSError as exc:
        raise ConfigurationError(f"cannot read the secret key file {path}: {exc.strerror}") from exc
    return SecretBox([key])


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(Fernet.generate_key() + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process won the race: use its key
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
