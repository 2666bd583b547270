"""The one cached-or-computed grid loop: any task, any payload; finished cells are reused, never
recomputed, a damaged payload is recomputed, and a cached-only lookup computes nothing."""

import json
from dataclasses import dataclass, field

import numpy as np

from fan_det.runtime.grid import CellCache, Codec, finish_cell, run_grid

MATRIX = Codec("confusion", ".json", lambda m: json.dumps(m.tolist()).encode(),
               lambda b: np.asarray(json.loads(b)))


@dataclass
class ConfusionTask:
    """A stand-in segmentation task: each cell's payload is a random confusion matrix, its stat the mIoU."""

    share_payload: bool
    codec: Codec = MATRIX
    evaluated: list = field(default_factory=list)

    def cell_name(self, cell):
        return f"{cell[0]}-{cell[1]}"

    def log_entry(self, cell):
        return list(cell)

    def evaluate(self, cell):
        self.evaluated.append(cell)
        matrix = np.random.default_rng(cell[1]).integers(0, 50, (3, 3))
        iou = np.diag(matrix) / (matrix.sum(0) + matrix.sum(1) - np.diag(matrix))
        return {"stats": {"mIoU": 100 * float(iou.mean())}}, matrix


CELLS = [("clean", 0), ("fog", 1), ("fog", 2)]


def test_a_second_run_reuses_every_cell_and_shares_its_payload(tmp_path):
    first = ConfusionTask(share_payload=True)
    cache = CellCache(tmp_path, {"model": "m"}, MATRIX)
    done = run_grid(CELLS, first, dict.fromkeys(CELLS, cache), desc="cells")
    assert first.evaluated == CELLS and not any(f.reused for f in done.values())
    again = ConfusionTask(share_payload=True)
    later = CellCache(tmp_path, {"model": "m"}, MATRIX)
    reused = run_grid(CELLS, again, dict.fromkeys(CELLS, later), desc="cells")
    assert again.evaluated == [] and all(f.reused for f in reused.values())
    for cell in CELLS:
        np.testing.assert_array_equal(reused[cell].payload, done[cell].payload)
        assert reused[cell].record == done[cell].record
        assert reused[cell].record["confusion_file"] == f"{cell[0]}-{cell[1]}.confusion.json"
    assert [e["event"] for e in cache.read_log()] == ["evaluated"] * 3 + ["reused"] * 3


def test_without_sharing_the_loop_keeps_no_payload_but_the_cache_has_it(tmp_path):
    task = ConfusionTask(share_payload=False)
    cache = CellCache(tmp_path, {"model": "m"}, MATRIX)
    done = run_grid(CELLS, task, dict.fromkeys(CELLS, cache), desc="cells")
    assert all(f.payload is None for f in done.values())
    expected = np.random.default_rng(2).integers(0, 50, (3, 3))
    np.testing.assert_array_equal(cache.load_payload("fog-2"), expected)


def test_a_damaged_payload_is_recomputed_and_a_cached_only_lookup_computes_nothing(tmp_path, capsys):
    task = ConfusionTask(share_payload=True)
    cache = CellCache(tmp_path, {"model": "m"}, MATRIX)
    assert finish_cell(("fog", 1), task, cache, compute=False) is None and task.evaluated == []
    finish_cell(("fog", 1), task, cache)
    payload = cache.path(cache.payload_name("fog-1"))
    payload.write_bytes(payload.read_bytes()[:5])
    assert finish_cell(("fog", 1), task, cache, compute=False) is None
    assert str(payload) in capsys.readouterr().err
    again = finish_cell(("fog", 1), task, cache)
    assert not again.reused and task.evaluated == [("fog", 1), ("fog", 1)]
    np.testing.assert_array_equal(again.payload, np.random.default_rng(1).integers(0, 50, (3, 3)))
