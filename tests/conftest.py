"""Session-wide fixtures shared by several test areas."""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest
from trained_model_helpers import TINY_RETINANET_CONFIG, tiny_retinanet_key

from fan_det.paths import REPO_ROOT, cache_root

if "MUTANT_UNDER_TEST" in os.environ:  # under `make mutation`, every mutant's tests run in a process forked
    # from one that ran tests before. tqdm's default lock is a semaphore shared across fork (a run killed on
    # timeout while holding it hung every later run): one process's bars need only a thread lock. OpenMP's
    # thread team does not survive a fork (the child waits forever for its threads): one thread each.
    import threading

    import torch
    from tqdm import tqdm

    tqdm.set_lock(threading.RLock())
    os.register_at_fork(after_in_child=lambda: torch.set_num_threads(1))


class TrainedModel(NamedTuple):
    weights: Path  # OUTPUT_DIR/model_final.pth; OUTPUT_DIR also holds metrics.json and the final evaluation
    config: Path


@pytest.fixture(autouse=True)
def drop_log_handlers_on_closed_streams():
    """A trainer built in-process installs detectron2's console handler on the stream of the moment, a
    test's capture buffer; once that test ends the buffer is closed and every later log record would print
    a "Logging error" traceback into another test's stderr."""
    yield
    loggers = [logging.getLogger(), *logging.root.manager.loggerDict.values()]
    for logger in loggers:
        for handler in list(getattr(logger, "handlers", [])):
            if getattr(getattr(handler, "stream", None), "closed", False):
                logger.removeHandler(handler)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a module's tests on one torch thread: on the 2-core CI machine intra-op threads only contend
    for models this small. Test areas opt in from their conftest."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def trained_tiny_retinanet() -> TrainedModel:
    """FAN-T-Hybrid RetinaNet trained on ``fan_synth_train`` by ``python -m fan_det.train`` (a few CPU
    minutes), cached under ``<cache>/test-models/<hash>`` so later sessions reuse it."""
    out = cache_root() / "test-models" / f"tiny_retinanet-{tiny_retinanet_key()}"
    out.parent.mkdir(parents=True, exist_ok=True)
    # one trainer at a time: a concurrent session waits for the first one's result instead of retraining
    with open(out.with_name(out.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / "model_final.pth").is_file():
            tmp = out.with_name(out.name + f".tmp{os.getpid()}")
            shutil.rmtree(tmp, ignore_errors=True)
            cmd = [sys.executable, "-m", "fan_det.train", "--config", str(TINY_RETINANET_CONFIG),
                   "OUTPUT_DIR", str(tmp)]
            proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"training the tiny RetinaNet failed:\n{proc.stderr[-4000:]}")
            shutil.rmtree(out, ignore_errors=True)
            tmp.rename(out)
    return TrainedModel(out / "model_final.pth", TINY_RETINANET_CONFIG)
