"""Blob stores for staged files: a small port, with a local folder as the default adapter (GCS later)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable


@runtime_checkable
class BlobStore(Protocol):
    """Where CSV batches are written before they are staged. Names are relative, `/`-separated."""

    def path_for(self, name: str) -> Path:
        """A local file path to write the blob `name` to (parent folders exist)."""
        ...

    def list(self, prefix: str = "") -> list[str]:
        """Names of the stored blobs that start with `prefix`, sorted."""
        ...

    def delete(self, name: str) -> None:
        """Remove one blob; a missing blob is not an error."""
        ...

    def delete_prefix(self, prefix: str) -> int:
        """Remove every blob whose name starts with `prefix`; return how many were removed."""
        ...
