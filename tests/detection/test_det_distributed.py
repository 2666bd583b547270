"""Two CPU processes through detectron2's ``launch`` (gloo DDP) train and end with identical weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from detectron2.engine import launch
from detectron2.utils import comm

from fan_det.data.register import register_tiny_datasets
from fan_det.detection import Trainer
from fan_det.paths import REPO_ROOT
from fan_det.train import load_config

TINY = str(REPO_ROOT / "configs" / "tiny" / "retinanet_fan_tiny_hybrid_synth.yaml")


def _params(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    model = getattr(model, "module", model)
    return {k: v.detach().clone() for k, v in model.named_parameters()}


def _train_and_save(out_dir: str) -> None:
    torch.set_num_threads(1)
    register_tiny_datasets()  # a spawned process registers its own
    cfg = load_config(TINY, [
        "OUTPUT_DIR", out_dir, "SOLVER.MAX_ITER", "3", "SOLVER.IMS_PER_BATCH", "2",
        "SOLVER.WARMUP_ITERS", "0",
        "DATASETS.TEST", "()", "INPUT.MIN_SIZE_TRAIN", "(96,)", "INPUT.MAX_SIZE_TRAIN", "128",
        "SOLVER.CHECKPOINT_PERIOD", "100000"])
    trainer = Trainer(cfg)
    trainer.resume_or_load(resume=False)
    before = _params(trainer.model)
    trainer.train()
    after = _params(trainer.model)
    torch.save({"before": before, "after": after}, Path(out_dir) / f"rank{comm.get_rank()}.pth")


@pytest.mark.slow
def test_two_gloo_processes_agree_on_weights(tmp_path):
    launch(_train_and_save, 2, dist_url="auto", args=(str(tmp_path),))
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pth", weights_only=True) for r in (0, 1))
    assert r0["after"].keys() == r1["after"].keys()
    for key in r0["after"]:
        assert torch.equal(r0["after"][key], r1["after"][key]), key
    changed = [k for k in r0["after"] if not torch.equal(r0["after"][k], r0["before"][k])]
    assert len(changed) > 0.9 * len(r0["after"])  # they trained, in step
