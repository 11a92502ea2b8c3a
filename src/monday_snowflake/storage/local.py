"""The default blob store: a folder on the local disk (usually `<data_dir>/files`)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path, PurePosixPath

from monday_snowflake.errors import ConfigurationError


class LocalBlobStore:
    """Blobs as files under `root`; names may contain `/` but never leave the root."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    def path_for(self, name: str) -> Path:
        path = self._resolve(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def list(self, prefix: str = "") -> list[str]:
        if not self.root.exists():
            return []
        names = (
            PurePosixPath(Path(dirpath, filename).relative_to(self.root)).as_posix()
            for dirpath, _, filenames in os.walk(self.root)
            for filename in filenames
        )
        return sorted(name for name in names if name.startswith(prefix))

    def delete(self, name: str) -> None:
        self._resolve(name).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> int:
        names = self.list(prefix)
        for name in names:
            self.delete(name)
        self._prune_empty_dirs()
        return len(names)

    def _resolve(self, name: str) -> Path:
        parts = PurePosixPath(name).parts
        if not name or PurePosixPath(name).is_absolute() or ".." in parts or "\\" in name or "\0" in name:
            raise ConfigurationError("invalid blob name", name=name)
        return self.root.joinpath(*parts)

    def _prune_empty_dirs(self) -> None:
        for dirpath, _, _ in sorted(os.walk(self.root), key=lambda entry: -len(entry[0])):
            if Path(dirpath) != self.root:
                with contextlib.suppress(OSError):
                    os.rmdir(dirpath)
