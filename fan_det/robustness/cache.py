"""Finished COCO-C cells on disk (a ``runtime.KeyedCache``), so a rerun with the same inputs skips them.

A finished cell is two entries: its detections (gzip JSON, COCO results format) and then its record
(stats, image count, seconds, the detections' SHA-256). A cell is finished exactly when its record reads
back whole, names this key and its detections file still has the recorded hash; anything else (a file
cut short by a crash, a record copied from another run) is recomputed, with a warning for what is
unreadable.
"""

from __future__ import annotations

import gzip
import json
import os
import sys
from collections.abc import Mapping

from fan_det.protocol import Cell
from fan_det.runtime.cache import KeyedCache
from fan_det.runtime.file_hashes import content_sha256
from fan_det.runtime.hashing import sha256_file
from fan_det.runtime.provenance import now_iso


def images_sha256(dataset: str, memo_dir: str | os.PathLike) -> str:
    """Hash of the bytes of a registered dataset's images, in its order: images replaced in place (same
    names, same annotations) change the key (files unchanged since the last run are not read again)."""
    from detectron2.data import DatasetCatalog

    files = [d["file_name"] for d in DatasetCatalog.get(dataset)]
    return content_sha256(files, memo_dir, desc=f"hash {dataset}")


class CellCache(KeyedCache):
    """The finished cells of one run key under ``root/<key>/``."""

    @staticmethod
    def record_name(cell: Cell) -> str:
        return f"{cell.name}.json"

    @staticmethod
    def detections_name(cell: Cell) -> str:
        return f"{cell.name}.detections.json.gz"

    def load_cell(self, cell: Cell) -> dict | None:
        """The finished cell's record, or None if it must be (re)computed."""
        record = self.load_json(self.record_name(cell))
        if record is None or record.get("key") != self.key:
            return None
        detections = self.path(self.detections_name(cell))
        if not detections.is_file() or sha256_file(detections) != record.get("detections_sha256"):
            print(f"warning: cache entry {detections} is missing or altered; recomputing cell {cell.name}",
                  file=sys.stderr)
            return None
        return record

    def load_detections(self, cell: Cell) -> list[dict]:
        """The cell's detections in COCO results format (dataset category ids)."""
        with gzip.open(self.path(self.detections_name(cell)), "rt") as f:
            return json.load(f)

    def save_cell(self, cell: Cell, record: Mapping[str, object], detections: list[dict]) -> dict:
        """Write detections, then the record (which marks the cell finished); return the stored record."""
        data = gzip.compress(json.dumps(detections).encode(), 6)
        written = self.save_bytes(self.detections_name(cell), data)
        stored = {"corruption": cell.corruption, "severity": cell.severity, **record, "key": self.key,
                  "finished_at": now_iso(), "detections_file": written.name,
                  "detections_sha256": sha256_file(written)}
        self.save_json(self.record_name(cell), stored)
        return stored

    def log_cell(self, event: str, cell: Cell) -> None:
        """Record what this process did with a cell (``evaluated`` or ``reused``) in ``log.jsonl``."""
        self.log(event, list(cell))
