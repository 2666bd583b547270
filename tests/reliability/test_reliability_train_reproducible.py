"""Promise: on a CPU, the same SEED, config and CPU_THREADS give the same weights, bit for bit."""

from __future__ import annotations

import pytest
import torch
import yaml
from reliability_train_helpers import FAST, TINY, run_train

# Two iterations with a data-loading worker process (seeded by detectron2 from SEED).
RUN = ["--config", TINY, *FAST, "SOLVER.MAX_ITER", "2", "DATALOADER.NUM_WORKERS", "1"]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    outs = []
    for i in range(2):
        out = tmp_path_factory.mktemp(f"run{i}")
        proc = run_train([*RUN, "OUTPUT_DIR", str(out)])
        assert proc.returncode == 0, proc.stderr[-3000:]
        outs.append(out)
    return outs


def _weights(out) -> dict[str, torch.Tensor]:
    return torch.load(out / "model_final.pth", map_location="cpu", weights_only=True)["model"]


def test_same_seed_config_and_threads_give_identical_weights(two_runs):
    a, b = (_weights(out) for out in two_runs)
    assert a.keys() == b.keys()
    assert [k for k in a if not torch.equal(a[k], b[k])] == []


def test_the_runs_trained_and_record_seed_and_thread_count(two_runs):
    for out in two_runs:
        saved = yaml.safe_load((out / "config.yaml").read_text())
        assert saved["SEED"] == 0 and saved["CPU_THREADS"] == 1
        assert "torch intra-op threads: 1" in (out / "log.txt").read_text()
        final = torch.load(out / "model_final.pth", map_location="cpu", weights_only=True)
        optimizer = final["trainer"]["_trainer"]["optimizer"]
        assert {int(s["step"]) for s in optimizer["state"].values()} == {2}  # two AdamW steps taken
