"""An exclusive lock on a folder, so that writers check the folder's state and claim it as one step."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

LOCK_FILE = ".lock"


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike) -> Iterator[None]:
    """Hold ``folder/.lock`` exclusively (``flock``: waits for the holder; the kernel releases it when
    the holder exits, even killed, so a crash never leaves the folder locked)."""
    with open(Path(folder) / LOCK_FILE, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
