"""`--state FILE`: the sandbox's data pickled to disk after admin changes and on shutdown."""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path

from monday_sandbox.data import SandboxData
from monday_sandbox.state import Sandbox


def save(sandbox: Sandbox, path: Path) -> None:
    """Write atomically: a crash mid-write leaves the previous file intact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            pickle.dump(sandbox.data, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(sandbox: Sandbox, path: Path) -> bool:
    """Replace the sandbox's data with the file's; False when there is no file yet.

    The file is trusted input (written by this program for its own user), as pickle requires.
    """
    if not path.exists():
        return False
    with path.open("rb") as handle:
        data = pickle.load(handle)  # noqa: S301 - our own state file
    if not isinstance(data, SandboxData):
        raise ValueError(f"{path} is not a sandbox state file")
    sandbox.data = data
    return True
