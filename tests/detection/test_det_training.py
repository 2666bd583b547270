"""Training for real on the CPU: the tiny FAN-T-Hybrid RetinaNet learns the synthetic set, and resumes."""

from __future__ import annotations

import json
import math
import shutil
from statistics import mean

import pytest
import torch
from detectron2.checkpoint import DetectionCheckpointer

from fan_det.detection import Trainer
from fan_det.train import load_config

# Box AP (0-100) on fan_synth_val that the trained model must beat and a random-init one cannot reach.
AP_THRESHOLD = 5.0


def _metrics(out_dir) -> list[dict]:
    return [json.loads(line) for line in (out_dir / "metrics.json").read_text().splitlines()]


@pytest.mark.slow
def test_loss_falls_and_box_ap_beats_an_untrained_model(trained_tiny_retinanet, tmp_path):
    out_dir = trained_tiny_retinanet.weights.parent
    metrics = _metrics(out_dir)
    losses = [m["total_loss"] for m in metrics if "total_loss" in m]
    assert len(losses) >= 6
    assert mean(losses[-2:]) < 0.8 * mean(losses[:3]), losses
    final_ap = [m["bbox/AP"] for m in metrics if "bbox/AP" in m][-1]
    assert final_ap > AP_THRESHOLD

    cfg = load_config(str(trained_tiny_retinanet.config), ["OUTPUT_DIR", str(tmp_path)])
    torch.manual_seed(0)
    untrained = Trainer.build_model(cfg)
    untrained_ap = Trainer.test(cfg, untrained)["bbox"]["AP"]
    assert math.isnan(untrained_ap) or untrained_ap < AP_THRESHOLD  # NaN: no detection at all, AP 0

    # The saved weights are the evaluated model: evaluating them again gives the logged AP.
    trained = Trainer.build_model(cfg)
    DetectionCheckpointer(trained).load(str(trained_tiny_retinanet.weights))
    assert Trainer.test(cfg, trained)["bbox"]["AP"] == pytest.approx(final_ap, abs=1e-6)


@pytest.mark.slow
def test_resume_continues_at_the_next_iteration(trained_tiny_retinanet, tmp_path):
    src = trained_tiny_retinanet.weights.parent
    checkpoints = sorted(p.name for p in src.glob("model_0*.pth"))
    assert checkpoints, "the tiny config must save an intermediate checkpoint"
    name = checkpoints[0]
    done = int(name[len("model_"):-len(".pth")]) + 1  # iterations finished when it was saved
    shutil.copy(src / name, tmp_path / name)
    (tmp_path / "last_checkpoint").write_text(name)
    cfg = load_config(str(trained_tiny_retinanet.config), [
        "OUTPUT_DIR", str(tmp_path), "SOLVER.MAX_ITER", str(done + 2), "DATASETS.TEST", "()",
        "SOLVER.CHECKPOINT_PERIOD", "100000"])
    trainer = Trainer(cfg)
    trainer.resume_or_load(resume=True)
    assert trainer.start_iter == done
    saved = torch.load(tmp_path / name, map_location="cpu", weights_only=False)
    for key, value in saved["model"].items():
        assert torch.equal(trainer.model.state_dict()[key], value), key
    steps = {int(s["step"]) for s in trainer.optimizer.state_dict()["state"].values()}
    assert steps == {done}  # AdamW's moments came back too
    trainer.train()
    assert trainer.iter == done + 2  # detectron2 leaves iter at MAX_ITER after a finished run
    assert [m["iteration"] for m in _metrics(tmp_path)] == [done + 1]  # ran iterations done, done + 1
