"""A thread budget per process, so N worker processes x M library threads never oversubscribe the cores.

torch, OpenCV, numba and the OpenMP/BLAS runtimes each start a thread per core by default; with worker
processes on top, a busy machine runs cores x workers threads and every one of them slows down. The
budget splits ``total`` threads (default: the cores this process may use) between the main process and
its workers; ``apply_threads`` sets every library that is loaded or loadable, ``budgeted_worker_init``
does it inside worker processes (a multiprocessing initializer or a DataLoader ``worker_init_fn``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

_forked = False  # set in a child made by fork() (e.g. a DataLoader worker on Linux)


def _mark_forked() -> None:
    global _forked
    _forked = True


os.register_at_fork(after_in_child=_mark_forked)

# read by OpenMP, OpenBLAS, MKL, numexpr and numba when they load (set before a worker imports them)
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
              "NUMBA_NUM_THREADS")


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity), not the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def default_threads() -> int:
    """This process's share of the cores: all of them, or 1/LOCAL_WORLD_SIZE under torchrun."""
    return max(1, available_cores() // int(os.environ.get("LOCAL_WORLD_SIZE", "1")))


@dataclass(frozen=True)
class ThreadBudget:
    """``main`` threads for this process while ``workers`` processes run ``per_worker`` threads each."""

    total: int
    workers: int
    per_worker: int
    main: int

    def as_dict(self) -> dict:
        return {"total": self.total, "workers": self.workers, "per_worker": self.per_worker,
                "main": self.main}


def plan_threads(total: int | None, workers: int) -> ThreadBudget:
    """Split ``total`` threads (None: ``default_threads()``) over ``workers`` processes (0: all in main).

    Each worker gets ``total // workers`` (at least 1); the main process, which only waits and
    journals while workers run, keeps what is left (at least 1).
    """
    total = default_threads() if total is None else total
    if total < 1:
        raise ValueError(f"the thread budget must be at least 1, got {total}")
    if workers <= 0:
        return ThreadBudget(total, 0, 0, total)
    per_worker = max(1, total // workers)
    return ThreadBudget(total, workers, per_worker, max(1, total - per_worker * workers))


def thread_env(threads: int) -> dict[str, str]:
    """Environment that caps libraries not loaded yet (what a spawned worker inherits)."""
    return {name: str(threads) for name in THREAD_ENV}


def apply_threads(threads: int) -> dict[str, int]:
    """Cap this process's libraries at ``threads`` threads; returns what each now reports.

    torch and numba are set only when already imported (importing them costs seconds); OpenCV always.
    Libraries loaded later read the environment set here. In a forked child OpenCV keeps its parent's
    setting: resizing its thread pool there, copied by fork mid-use, deadlocks (pthread_cond_destroy).
    """
    import sys

    import cv2

    os.environ.update(thread_env(threads))
    if not _forked:
        cv2.setNumThreads(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    if "numba" in sys.modules:
        numba = sys.modules["numba"]
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    return thread_counts(load=False)


def thread_counts(load: bool = True) -> dict[str, int]:
    """Threads each library would use now (``load``: import torch and numba to ask them)."""
    import sys

    import cv2

    counts = {"opencv": cv2.getNumThreads()}
    if load or "torch" in sys.modules:
        import torch

        counts["torch"] = torch.get_num_threads()
    if load or "numba" in sys.modules:
        import numba

        counts["numba"] = numba.get_num_threads()
    return counts


class budgeted_worker_init:  # noqa: N801 (used like a function: ``worker_init_fn=budgeted_worker_init(2)``)
    """Picklable initializer: ``budgeted_worker_init(threads)(worker_id=None)`` caps the worker's threads.

    Fits ``torch.utils.data.DataLoader(worker_init_fn=...)`` (called with the worker id; with the
    default fork context OpenCV keeps the parent's setting, see ``apply_threads``) and
    ``multiprocessing.Pool(initializer=...)`` (called with no argument). ``then`` runs afterwards with
    the same argument when given (e.g. detectron2's ``worker_init_reset_seed``).
    """

    def __init__(self, threads: int, then=None):
        if threads < 1:
            raise ValueError(f"threads per worker must be at least 1, got {threads}")
        self.threads, self.then = threads, then

    def __call__(self, worker_id: int | None = None) -> None:
        apply_threads(self.threads)
        if self.then is not None:
            self.then(worker_id) if worker_id is not None else self.then()
