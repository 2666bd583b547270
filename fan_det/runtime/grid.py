"""One cached-or-computed loop over the cells of an evaluation, on one process or many.

A cell is whatever one evaluation is split into (a COCO-C corruption cell, a COCO-O domain, an OOD
folder, a segmentation cell). A ``CellTask`` evaluates a cell into ``(record, payload)``: the record is
small JSON (stats, counts, seconds), the payload what the task keeps per cell to compute more later
(COCO detections, per-image outcomes, confusion matrices), stored through the task's ``Codec``. Only the
main rank reads and writes the caches; it decides for every rank whether a cell is reused or evaluated,
and every rank takes part in evaluating it.

A finished cell on disk is two entries of a ``runtime.KeyedCache``: the payload, then the record, which
names the key and the payload's SHA-256. A cell counts as finished exactly when its record reads back
whole, names this key and its payload file still has the recorded hash; anything else (a file cut short
by a crash, a record copied from another run) is recomputed, with a warning for what is unreadable.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from fan_det.runtime.cache import KeyedCache
from fan_det.runtime.hashing import sha256_file
from fan_det.runtime.provenance import now_iso

C = TypeVar("C", bound=Hashable)


@dataclass(frozen=True)
class Codec:
    """How a task's payload is stored: ``<cell>.<name><suffix>``, named in the record as ``<name>_file``."""

    name: str
    suffix: str
    encode: Callable[[Any], bytes]
    decode: Callable[[bytes], Any]


class CellTask(Protocol[C]):
    """What the grid loop needs from an evaluation."""

    codec: Codec
    share_payload: bool  # every rank gets every cell's payload (else the loop keeps none)

    def cell_name(self, cell: C) -> str:
        """The cell's file-name-safe name in its cache."""

    def log_entry(self, cell: C) -> object:
        """How the cache's log names the cell (JSON)."""

    def evaluate(self, cell: C) -> tuple[dict, Any] | None:
        """Evaluate on every rank; ``(record, payload)`` on the main rank (others may return None)."""


@dataclass(frozen=True)
class Finished:
    """A cell's record (the stored one on the main rank) and, if the task shares it, its payload."""

    record: dict | None
    payload: Any = None
    reused: bool = False


class CellCache(KeyedCache):
    """The finished cells of one key under ``root/<key>/``, payloads stored by ``codec``."""

    def __init__(self, root, components: Mapping[str, object], codec: Codec):
        super().__init__(root, components)
        self.codec = codec

    @staticmethod
    def record_name(name: str) -> str:
        return f"{name}.json"

    def payload_name(self, name: str) -> str:
        return f"{name}.{self.codec.name}{self.codec.suffix}"

    def load_cell(self, name: str) -> dict | None:
        """The finished cell's record, or None if it must be (re)computed."""
        record = self.load_json(self.record_name(name))
        if record is None or record.get("key") != self.key:
            return None
        payload = self.path(self.payload_name(name))
        if not payload.is_file() or sha256_file(payload) != record.get(f"{self.codec.name}_sha256"):
            print(f"warning: cache entry {payload} is missing, unreadable or altered; recomputing {name}",
                  file=sys.stderr)
            return None
        return record

    def load_payload(self, name: str) -> Any:
        """The cell's payload, decoded (None, with a warning, when it cannot be)."""
        return self.load(self.payload_name(name), self.codec.decode)

    def save_cell(self, name: str, record: Mapping[str, object], payload: Any) -> dict:
        """Write the payload, then the record (which marks the cell finished); return the stored record."""
        written = self.save_bytes(self.payload_name(name), self.codec.encode(payload))
        stored = {**record, "key": self.key, "finished_at": now_iso(),
                  f"{self.codec.name}_file": written.name, f"{self.codec.name}_sha256": sha256_file(written)}
        self.save_json(self.record_name(name), stored)
        return stored


def finish_cell(cell: C, task: CellTask[C], cache: CellCache | None, *,
                compute: bool = True) -> Finished | None:
    """The cell from ``cache`` if it is finished there, else evaluated (every rank) and saved at once.

    ``cache`` is the main rank's (None elsewhere). With ``compute`` False an unfinished cell is None.
    All ranks wait for the save, so none starts the next cell early.
    """
    from detectron2.utils import comm

    main = comm.is_main_process()
    name = task.cell_name(cell)
    found = None
    if main and (record := cache.load_cell(name)) is not None:
        payload = cache.load_payload(name) if task.share_payload else None
        if payload is not None or not task.share_payload:
            found = (record, payload)
    found = comm.all_gather(found)[0]  # the main rank's cache decides for every rank
    if found is not None:
        if main:
            cache.log("reused", task.log_entry(cell))
        return Finished(*found, reused=True)
    if not compute:
        return None
    record, payload = task.evaluate(cell) or (None, None)
    if main:
        record = cache.save_cell(name, record, payload)
        cache.log("evaluated", task.log_entry(cell))
    comm.synchronize()
    return Finished(record, payload if task.share_payload else None)


def run_grid(cells: Sequence[C], task: CellTask[C], caches: Mapping[C, CellCache] | None,
             desc: str) -> dict[C, Finished]:
    """Every cell, reused or evaluated, in plan order; ``caches`` (cell -> its cache) on the main rank."""
    from detectron2.utils import comm
    from tqdm import tqdm

    bar = tqdm(cells, desc=desc, disable=not comm.is_main_process())
    return {cell: finish_cell(cell, task, caches[cell] if caches is not None else None) for cell in bar}
