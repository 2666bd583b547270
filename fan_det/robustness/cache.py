"""Finished cells on disk, keyed by everything that decides their numbers, so a rerun skips them.

The run key hashes the weights, the normalised config, the dataset, the corruption library version, the
seed and where the images come from (on the fly, or a materialised COCO-C root). A finished cell is two
files, each written atomically (temporary file, then rename): its detections (gzip JSON in COCO results
format) first, then its record (stats, image count, seconds). A cell is finished exactly when its record
exists, so a run killed at any point leaves either a whole cell or none. ``log.jsonl`` says what each run
evaluated and what it reused.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path

from fan_det.protocol import Cell


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_json(obj: object) -> str:
    """Hex SHA-256 of canonical JSON (sorted keys), for hashing plain structures."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def atomic_write(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path``, then rename: readers see the old file or the new one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class CellCache:
    """The finished cells of one run key under ``root/<key>/``."""

    def __init__(self, root: str | os.PathLike, components: Mapping[str, object]):
        self.components = dict(components)
        self.key = sha256_json(self.components)[:16]
        self.dir = Path(root) / self.key
        self.dir.mkdir(parents=True, exist_ok=True)
        key_file = self.dir / "key.json"
        if not key_file.exists():
            atomic_write(key_file, json.dumps(self.components, indent=1, sort_keys=True).encode())

    def record_path(self, cell: Cell) -> Path:
        return self.dir / f"{cell.name}.json"

    def detections_path(self, cell: Cell) -> Path:
        return self.dir / f"{cell.name}.detections.json.gz"

    def load(self, cell: Cell) -> dict | None:
        """The finished cell's record, or None if it has not been finished under this key."""
        path = self.record_path(cell)
        if not path.exists():
            return None
        record = json.loads(path.read_text())
        return record if record.get("key") == self.key else None

    def load_detections(self, cell: Cell) -> list[dict]:
        """The cell's detections in COCO results format (dataset category ids)."""
        with gzip.open(self.detections_path(cell), "rt") as f:
            return json.load(f)

    def save(self, cell: Cell, record: Mapping[str, object], detections: list[dict]) -> dict:
        """Write detections, then the record (which marks the cell finished); return the stored record."""
        atomic_write(self.detections_path(cell), gzip.compress(json.dumps(detections).encode(), 6))
        stored = {"corruption": cell.corruption, "severity": cell.severity, **record, "key": self.key,
                  "finished_at": now_iso(), "detections_file": self.detections_path(cell).name}
        atomic_write(self.record_path(cell), json.dumps(stored, indent=1).encode())
        return stored

    def log(self, event: str, cell: Cell) -> None:
        """Append what this process did with a cell (``evaluated`` or ``reused``) to ``log.jsonl``."""
        line = json.dumps({"time": now_iso(), "pid": os.getpid(), "event": event, "cell": list(cell)})
        with open(self.dir / "log.jsonl", "a") as f:
            f.write(line + "\n")

    def read_log(self) -> list[dict]:
        path = self.dir / "log.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
