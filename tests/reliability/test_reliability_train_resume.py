"""Promise: a run killed right after a checkpoint and resumed with --resume ends with exactly the weights
of the uninterrupted run (CPU, same SEED, config and CPU_THREADS)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from reliability_train_helpers import FAST, TINY, run_train

from fan_det.paths import REPO_ROOT

# Six iterations, a checkpoint every two; a loader worker maps the images (random flips) and drop path
# draws from torch's generator in every step, so data order, augmentation and model randomness all count.
RUN = ["--config", TINY, *FAST, "SOLVER.MAX_ITER", "6", "SOLVER.CHECKPOINT_PERIOD", "2",
       "DATALOADER.NUM_WORKERS", "1", "MODEL.FAN.DROP_PATH_RATE", "0.1"]


def _weights(path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)["model"]


def _kill_after_first_checkpoint(out) -> str:
    """Start the run, SIGKILL its process group as soon as a checkpoint is recorded; the checkpoint's name."""
    process = subprocess.Popen([sys.executable, "-m", "fan_det.train", *RUN, "OUTPUT_DIR", str(out)],
                               cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               start_new_session=True)
    tag, deadline = out / "last_checkpoint", time.monotonic() + 600
    try:
        while not (tag.is_file() and tag.read_text().strip()) and process.poll() is None:
            assert time.monotonic() < deadline, "no checkpoint within 10 minutes"
            time.sleep(0.02)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        stderr = process.communicate()[1].decode()
    assert process.returncode == -signal.SIGKILL, stderr[-3000:]
    return tag.read_text().strip()


@pytest.mark.slow
def test_resume_after_a_kill_gives_the_uninterrupted_weights_bit_for_bit(tmp_path):
    whole = tmp_path / "whole"
    proc = run_train([*RUN, "OUTPUT_DIR", str(whole)])
    assert proc.returncode == 0, proc.stderr[-3000:]

    cut = tmp_path / "cut"
    checkpoint = _kill_after_first_checkpoint(cut)
    # killed mid-run: a periodic checkpoint, not the end, so the resumed run trains the rest
    assert checkpoint in {"model_0000001.pth", "model_0000003.pth"} and not (cut / "model_final.pth").exists()

    proc = run_train(["--resume", *RUN, "OUTPUT_DIR", str(cut)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    resumed, expected = _weights(cut / "model_final.pth"), _weights(whole / "model_final.pth")
    assert resumed.keys() == expected.keys()
    assert [k for k in expected if not torch.equal(resumed[k], expected[k])] == []
    # and the run did learn between the checkpoint and the end: the comparison is not of two copies
    at_cut = _weights(cut / checkpoint)
    assert any(not torch.equal(at_cut[k], expected[k]) for k in expected)
