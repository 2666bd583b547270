"""The thread budget really reaches worker processes: spawned pool workers and DataLoader workers."""

import json
import multiprocessing
import os

import cv2
import numba
import pytest
import torch

from fan_det.build_coco_c import main
from fan_det.corruptions.builder import _WorkerInit
from fan_det.runtime.threads import budgeted_worker_init, plan_threads, thread_counts


def test_budget_splits_the_threads():
    assert plan_threads(8, 3).as_dict() == {"total": 8, "workers": 3, "per_worker": 2, "main": 2}
    assert plan_threads(8, 4).as_dict() == {"total": 8, "workers": 4, "per_worker": 2, "main": 1}
    assert plan_threads(2, 5).as_dict() == {"total": 2, "workers": 5, "per_worker": 1, "main": 1}
    assert plan_threads(6, 0).as_dict() == {"total": 6, "workers": 0, "per_worker": 0, "main": 6}
    assert plan_threads(None, 0).total == len(os.sched_getaffinity(0))


def test_torchrun_ranks_on_one_machine_share_the_cores(monkeypatch):
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert plan_threads(None, 0).total == max(1, len(os.sched_getaffinity(0)) // 2)
    with pytest.raises(ValueError):
        plan_threads(0, 1)


@pytest.fixture
def many_threads_here():
    """This process set to more threads than the budget gives, so an unapplied budget shows."""
    saved = torch.get_num_threads(), cv2.getNumThreads(), numba.get_num_threads()
    torch.set_num_threads(3)
    cv2.setNumThreads(3)
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    yield
    torch.set_num_threads(saved[0])
    cv2.setNumThreads(saved[1])
    numba.set_num_threads(saved[2])


@pytest.mark.parametrize("initializer", [budgeted_worker_init(1), _WorkerInit(os.getpid(), 1)],
                         ids=["budgeted_worker_init", "builder"])
def test_spawned_pool_workers_run_the_budget(many_threads_here, initializer):
    with multiprocessing.get_context("spawn").Pool(1, initializer=initializer) as pool:
        counts = pool.apply(thread_counts)
    assert counts == {"opencv": 1, "torch": 1, "numba": 1}


class Counts(torch.utils.data.Dataset):
    def __len__(self):
        return 1

    def __getitem__(self, i):
        return json.dumps(thread_counts())


def first(loader):
    return json.loads(next(iter(loader)))


def test_dataloader_workers_run_the_budget(many_threads_here):
    spawned = {"num_workers": 1, "batch_size": None, "multiprocessing_context": "spawn"}
    loader = torch.utils.data.DataLoader(Counts(), worker_init_fn=budgeted_worker_init(1), **spawned)
    assert first(loader) == {"opencv": 1, "torch": 1, "numba": 1}
    counts = first(torch.utils.data.DataLoader(Counts(), **spawned))
    assert counts["opencv"] > 1 and counts["numba"] > 1, counts  # what the budget changes
    forked = {"num_workers": 1, "batch_size": None, "multiprocessing_context": "fork"}
    counts = first(torch.utils.data.DataLoader(Counts(), worker_init_fn=budgeted_worker_init(1), **forked))
    assert counts["torch"] == 1 and counts["numba"] == 1
    assert counts["opencv"] == cv2.getNumThreads()  # kept: resizing OpenCV's pool after fork deadlocks


def test_the_manifest_records_the_budget(small_coco, tmp_path):
    out = tmp_path / "c"
    assert main(["--dataset", str(small_coco[0]), "--image-root", str(small_coco[1]), "--out", str(out),
                 "--corruptions", "brightness", "--severities", "1", "--workers", "2", "--threads", "3",
                 "--no-progress"]) == 0
    built = json.loads((out / "manifest.json").read_text())["built"]
    assert built["threads"] == {"total": 3, "workers": 2, "per_worker": 1, "main": 1}
    assert built["workers"] == 2
