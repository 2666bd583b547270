"""Shared by the train reliability tests: the tiny config made seconds-sized, and running the CLI."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fan_det.paths import REPO_ROOT

TINY = str(REPO_ROOT / "configs" / "tiny" / "retinanet_fan_tiny_hybrid_synth.yaml")
# Two images of 96 px a step, no evaluation: the training code path in seconds.
FAST = ["SOLVER.IMS_PER_BATCH", "2", "SOLVER.WARMUP_ITERS", "0", "DATASETS.TEST", "()",
        "INPUT.MIN_SIZE_TRAIN", "(96,)", "INPUT.MAX_SIZE_TRAIN", "128", "CPU_THREADS", "1"]


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def refusal(capsys: pytest.CaptureFixture, argv: list[str]) -> str:
    """Run ``train`` in this process; assert it refused with exit status 2 and ONE error line; return it."""
    from fan_det.train import cli

    with pytest.raises(SystemExit) as exit_info, torch_state_restored():
        cli(argv)
    assert exit_info.value.code == 2
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1, lines
    return lines[0]


@contextlib.contextmanager
def torch_state_restored():
    """``train`` sets the thread count and deterministic kernels for its process: undo that here."""
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)


def run_train(args: list[str], env: dict[str, str] | None = None,
              cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fan_det.train", *args], cwd=cwd, capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=600)
