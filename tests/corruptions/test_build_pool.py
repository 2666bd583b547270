"""How the builder asks for its worker pool: spawned processes, one per task up to ``workers``, each image
handed out alone (a slow image holds back no other), the thread caps in the environment only while the
workers start. The pool is a recording stand-in here; test_builder.py and test_threads.py run real ones."""

from __future__ import annotations

import json
import os

import pytest

from fan_det.corruptions import build_coco_c, builder, load_images
from fan_det.runtime.threads import THREAD_ENV, plan_threads


class RecordingPool:
    """Stands in for ``multiprocessing.Pool``: records its arguments and the environment it started in."""

    made: list = []

    def __init__(self, processes, initializer):
        self.processes, self.initializer = processes, initializer
        self.environ = dict(os.environ)
        self.chunksizes: list = []
        self.closed = False
        RecordingPool.made.append(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.closed = True
        return False

    def imap_unordered(self, func, tasks, chunksize):
        self.chunksizes.append(chunksize)
        return [f"pool:{func(task)}" for task in tasks]


class RecordingContext:
    def __init__(self, method):
        self.method = method

    def Pool(self, processes, initializer):  # noqa: N802 (multiprocessing's name)
        return RecordingPool(processes, initializer)


def processed(task):
    return f"processed({task})"


@pytest.fixture
def pools(monkeypatch):
    RecordingPool.made = []
    contexts = []

    def get_context(method):
        contexts.append(method)
        return RecordingContext(method)

    monkeypatch.setattr(builder.multiprocessing, "get_context", get_context)
    monkeypatch.setattr(builder, "_process_image", processed)
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    for name in THREAD_ENV[1:]:
        monkeypatch.delenv(name, raising=False)
    return contexts


def test_two_workers_start_a_spawned_pool_of_two_with_one_image_per_handout(pools):
    budget = plan_threads(6, 2)
    results = list(builder._run(["a", "b", "c"], 2, budget))
    (pool,) = RecordingPool.made
    assert pools == ["spawn"]
    assert pool.processes == 2
    assert pool.chunksizes == [1]
    assert results == ["pool:processed(a)", "pool:processed(b)", "pool:processed(c)"]
    assert pool.closed
    assert (pool.initializer.parent, pool.initializer.threads) == (os.getpid(), 3)


def test_the_pool_has_no_more_processes_than_images(pools):
    list(builder._run(["a", "b"], 5, plan_threads(10, 5)))
    assert [p.processes for p in RecordingPool.made] == [2]


def test_one_worker_or_one_image_runs_in_this_process(pools):
    assert list(builder._run(["a", "b"], 1, plan_threads(4, 0))) == ["processed(a)", "processed(b)"]
    assert list(builder._run(["a"], 4, plan_threads(4, 4))) == ["processed(a)"]
    assert RecordingPool.made == [] and pools == []


def test_thread_caps_are_set_while_workers_start_then_restored(pools):
    before = dict(os.environ)
    list(builder._run(["a", "b", "c"], 3, plan_threads(7, 3)))
    (pool,) = RecordingPool.made
    assert {name: pool.environ.get(name) for name in THREAD_ENV} == dict.fromkeys(THREAD_ENV, "2")
    assert dict(os.environ) == before
    assert os.environ["OMP_NUM_THREADS"] == "7"
    assert not any(name in os.environ for name in THREAD_ENV[1:])


def test_thread_caps_are_restored_when_the_pool_cannot_start(pools, monkeypatch):
    def refuse(self, processes, initializer):
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(RecordingContext, "Pool", refuse)
    before = dict(os.environ)
    with pytest.raises(OSError, match="Too many open files"):
        list(builder._run(["a", "b"], 2, plan_threads(4, 2)))
    assert dict(os.environ) == before


class InProcessPool(RecordingPool):
    """A recording pool that does the work here, so a whole build can run through it."""

    def imap_unordered(self, func, tasks, chunksize):
        self.chunksizes.append(chunksize)
        return map(func, tasks)


def test_a_build_hands_its_thread_budget_to_the_pool(small_coco, tmp_path, monkeypatch):
    RecordingPool.made = []

    class Context:
        def Pool(self, processes, initializer):  # noqa: N802 (multiprocessing's name)
            return InProcessPool(processes, initializer)

    monkeypatch.setattr(builder.multiprocessing, "get_context", lambda method: Context())
    entries = load_images(str(small_coco[0]), small_coco[1], "png")[:3]
    out = tmp_path / "coco_c"
    report = build_coco_c(entries, out, ("fog",), (1,), workers=2, threads=6, progress=False)
    (pool,) = RecordingPool.made
    assert (pool.processes, pool.initializer.threads) == (2, 3)
    assert report.written == 3
    built = json.loads((out / "manifest.json").read_text())["built"]
    assert (built["workers"], built["threads"]) == (2, {"total": 6, "workers": 2, "per_worker": 3, "main": 1})
