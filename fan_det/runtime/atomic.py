"""Write-then-rename, so a reader (or a run killed half-way) sees the old file or the whole new one."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

TMP_SUFFIX = ".tmp"


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, fsync: bool = False) -> Path:
    """Write ``data`` to a hidden temporary file beside ``path``, then rename it over ``path``; a write
    that fails (full disk, file-size limit) removes the temporary file and raises ``OSError`` naming
    ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}{TMP_SUFFIX}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise OSError(error.errno, error.strerror or str(error), str(path)) from error
    return path


def atomic_write_text(path: str | os.PathLike, text: str, *, fsync: bool = False) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"), fsync=fsync)


def _plain(x: Any) -> Any:
    """numpy scalars and tuples as plain JSON values (results carry numpy floats from the metrics)."""
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if hasattr(x, "item") and callable(x.item) and getattr(x, "shape", None) == ():
        return x.item()
    return x


def atomic_write_json(path: str | os.PathLike, obj: Any, *, indent: int | None = 1,
                      fsync: bool = False) -> Path:
    """Strict JSON (NaN and infinity refused: a number that cannot be computed is left out, not written)."""
    text = json.dumps(_plain(obj), indent=indent, allow_nan=False) + "\n"
    return atomic_write_text(path, text, fsync=fsync)
