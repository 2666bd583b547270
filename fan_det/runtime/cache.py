"""Finished work on disk, keyed by everything that decides its numbers, so a rerun skips it.

One folder per key (the first 16 hex digits of the SHA-256 of the key's components, which are written
beside the entries as ``key.json``). Entries are written atomically, so a run killed at any point leaves
whole entries or none; an entry that cannot be parsed (a truncated file from a crash outside our control,
a disk error) is reported with a warning and recomputed, never trusted. ``log.jsonl`` records what each
run computed and what it reused.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from fan_det.runtime.atomic import atomic_write_bytes, atomic_write_json
from fan_det.runtime.hashing import sha256_json
from fan_det.runtime.provenance import now_iso

T = TypeVar("T")
KEY_FILE = "key.json"
LOG_FILE = "log.jsonl"


class KeyedCache:
    """The entries of one key under ``root/<key>/``."""

    def __init__(self, root: str | os.PathLike, components: Mapping[str, object]):
        self.components = dict(components)
        self.key = sha256_json(self.components)[:16]
        self.dir = Path(root) / self.key
        self.dir.mkdir(parents=True, exist_ok=True)
        if not (self.dir / KEY_FILE).exists():
            atomic_write_json(self.dir / KEY_FILE, self.components)

    def path(self, name: str) -> Path:
        return self.dir / name

    def load(self, name: str, parse: Callable[[bytes], T]) -> T | None:
        """The parsed entry, or None when it is absent or unreadable (then with a warning on stderr)."""
        path = self.path(name)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            return parse(data)
        except Exception as error:  # any parse failure means the entry cannot be trusted
            print(f"warning: cache entry {path} is unreadable ({type(error).__name__}: {error}); "
                  "recomputing it", file=sys.stderr)
            return None

    def load_json(self, name: str) -> dict | None:
        """A JSON entry (an object), or None when absent or unreadable."""

        def parse(data: bytes) -> dict:
            obj = json.loads(data)
            if not isinstance(obj, dict):
                raise ValueError("not a JSON object")
            return obj

        return self.load(name, parse)

    def save_bytes(self, name: str, data: bytes) -> Path:
        return atomic_write_bytes(self.path(name), data, fsync=True)

    def save_json(self, name: str, obj: object) -> Path:
        return atomic_write_json(self.path(name), obj, fsync=True)

    def log(self, event: str, entry: object) -> None:
        """Append what this process did with an entry (e.g. ``evaluated`` or ``reused``) to the log."""
        line = json.dumps({"time": now_iso(), "pid": os.getpid(), "event": event, "entry": entry})
        with open(self.path(LOG_FILE), "a") as f:
            f.write(line + "\n")

    def read_log(self) -> list[dict]:
        path = self.path(LOG_FILE)
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
