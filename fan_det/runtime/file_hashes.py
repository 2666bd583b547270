"""Content hashes of a dataset's files for cache keys, each file read once: a memo skips unchanged files.

A cached result is only as fresh as its key: images replaced in place (same names, same annotations)
must change it, so keys hash the images' bytes. Hashing a large set on every run would cost a read of
every byte, so a memo beside the cache (``<memo_dir>/file_hashes/<folder hash>.json``) records each file's
hash with its status: size, modification time, status-change time and inode. A file whose status is
unchanged keeps its recorded hash; any rewrite changes its status-change time (which, unlike the
modification time, ``cp -p``, ``rsync -a`` or ``touch`` cannot set back), so it is hashed again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from fan_det.runtime.atomic import atomic_write_json
from fan_det.runtime.hashing import sha256_bytes, sha256_file, sha256_json

MEMO_DIR = "file_hashes"


def _status(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _load_memo(path: Path) -> dict:
    try:
        memo = json.loads(path.read_text())
    except (OSError, ValueError):  # none yet, or cut short: everything is hashed again
        return {}
    return memo if isinstance(memo, dict) else {}


def file_hashes(paths: Sequence[str | os.PathLike], memo_dir: str | os.PathLike, *,
                desc: str = "hash images") -> list[str | None]:
    """SHA-256 of each file's bytes, in order; None for a file that cannot be read (the evaluator's own
    read policy decides what that means). Files unchanged since ``memo_dir``'s memo recorded them are
    not read again."""
    files = [os.path.abspath(p) for p in paths]
    if not files:
        return []
    folder = os.path.commonpath(files)
    memo_path = Path(memo_dir) / MEMO_DIR / f"{sha256_bytes(folder.encode())[:16]}.json"
    memo, changed = _load_memo(memo_path), False
    hashes: list[str | None] = []
    for path in tqdm(files, desc=desc, unit="file", leave=False, disable=len(files) < 1000):
        status, name = _status(path), os.path.relpath(path, folder)
        recorded = memo.get(name)
        if status is not None and isinstance(recorded, list) and recorded[:-1] == status:
            hashes.append(recorded[-1])
            continue
        try:
            digest = sha256_file(path)
        except OSError:
            digest = None
        hashes.append(digest)
        if status is not None and digest is not None:  # the status read before the bytes: a rewrite
            memo[name], changed = [*status, digest], True  # during the read shows on the next run
    if changed:
        atomic_write_json(memo_path, memo, indent=None)
    return hashes


def content_sha256(paths: Sequence[str | os.PathLike], memo_dir: str | os.PathLike, *,
                   desc: str = "hash images") -> str:
    """One hash of the bytes of ``paths`` in order (the hash of their ``file_hashes`` list): the part of
    every evaluator's cache key that says which pixels were evaluated."""
    return sha256_json(file_hashes(paths, memo_dir, desc=desc))
