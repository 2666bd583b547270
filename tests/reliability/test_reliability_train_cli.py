"""Promises of ``train --resume`` and ``train --eval-only`` through the command line's own ``main``."""

from __future__ import annotations

import json

import pytest
import torch
from reliability_train_helpers import FAST, TINY, torch_state_restored

from fan_det.detection import Trainer
from fan_det.train import build_parser, main


def _main(*argv: str):
    with torch_state_restored():
        return main(build_parser().parse_args(list(argv)))


def test_resume_continues_from_the_last_checkpoint_with_its_weights_and_optimizer(tmp_path, monkeypatch):
    _main("--config", TINY, *FAST, "SOLVER.MAX_ITER", "2", "SOLVER.CHECKPOINT_PERIOD", "1",
          "OUTPUT_DIR", str(tmp_path))
    last = tmp_path / (tmp_path / "last_checkpoint").read_text().strip()
    saved = torch.load(last, map_location="cpu", weights_only=True)
    seen = {}

    def record(self):  # instead of training: what --resume restored
        seen["start_iter"] = self.start_iter
        seen["model"] = {k: v.clone() for k, v in self.model.state_dict().items()}
        seen["steps"] = {int(s["step"]) for s in self.optimizer.state_dict()["state"].values()}

    monkeypatch.setattr(Trainer, "train", record)
    _main("--config", TINY, "--resume", *FAST, "SOLVER.MAX_ITER", "4", "OUTPUT_DIR", str(tmp_path))
    assert seen["start_iter"] == 2
    assert seen["steps"] == {2}
    assert all(torch.equal(seen["model"][k], v) for k, v in saved["model"].items())


@pytest.mark.slow
def test_eval_only_reproduces_the_final_evaluation_of_training(trained_tiny_retinanet, tmp_path):
    out = trained_tiny_retinanet.weights.parent
    logged = [json.loads(line) for line in (out / "metrics.json").read_text().splitlines()]
    final_ap = [m["bbox/AP"] for m in logged if "bbox/AP" in m][-1]
    results = _main("--config", str(trained_tiny_retinanet.config), "--eval-only",
                    "MODEL.WEIGHTS", str(trained_tiny_retinanet.weights), "OUTPUT_DIR", str(tmp_path))
    assert results["bbox"]["AP"] == pytest.approx(final_ap, abs=1e-9)
