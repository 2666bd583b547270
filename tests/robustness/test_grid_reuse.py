"""More of the grid loop's promises: the cache log names each cell as the task does, a task that shares
no payload reuses its cells without reading payloads, a finished record says when, and a rank other than
the main one evaluates every cell with no cache."""

from datetime import datetime

import numpy as np
from test_grid_loop import CELLS, MATRIX, ConfusionTask

from fan_det.runtime.grid import CellCache, run_grid


def test_the_log_names_each_cell_as_the_task_does_and_records_say_when_they_finished(tmp_path):
    cache = CellCache(tmp_path, {"model": "m"}, MATRIX)
    done = run_grid(CELLS, ConfusionTask(share_payload=True), dict.fromkeys(CELLS, cache), desc="cells")
    run_grid(CELLS, ConfusionTask(share_payload=True), dict.fromkeys(CELLS, cache), desc="cells")
    assert [(e["event"], e["entry"]) for e in cache.read_log()] == \
        [("evaluated", list(c)) for c in CELLS] + [("reused", list(c)) for c in CELLS]
    for finished in done.values():
        assert datetime.fromisoformat(finished.record["finished_at"]).year >= 2024


def test_without_sharing_finished_cells_are_reused_and_no_payload_is_read(tmp_path, monkeypatch):
    cache = CellCache(tmp_path, {"model": "m"}, MATRIX)
    run_grid(CELLS, ConfusionTask(share_payload=False), dict.fromkeys(CELLS, cache), desc="cells")
    monkeypatch.setattr(CellCache, "load_payload", lambda self, name: np.zeros(1))
    again = ConfusionTask(share_payload=False)
    reused = run_grid(CELLS, again, dict.fromkeys(CELLS, cache), desc="cells")
    assert again.evaluated == [] and all(f.reused and f.payload is None for f in reused.values())


def test_another_rank_evaluates_every_cell_with_no_cache(monkeypatch):
    from detectron2.utils import comm

    monkeypatch.setattr(comm, "is_main_process", lambda: False)
    task = ConfusionTask(share_payload=True)
    done = run_grid(CELLS, task, None, desc="cells")
    assert task.evaluated == CELLS and not any(f.reused for f in done.values())
    np.testing.assert_array_equal(done[("fog", 2)].payload, np.random.default_rng(2).integers(0, 50, (3, 3)))
