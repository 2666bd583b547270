"""A detector giving non-finite outputs is refused with one line naming the model, the dataset and the
batch, in eval_coco_c and eval_coco_o, with nothing of the run written (no results file, no cached
cell), instead of dying in detectron2's box assertion or scoring NaN scores as no detection."""

from __future__ import annotations

import pytest
import torch
from detectron2.structures import Boxes, Instances

from fan_det.data.coco_o import build_tiny_coco_o_set
from fan_det.eval_coco_c import main as eval_coco_c
from fan_det.eval_coco_o import main as eval_coco_o
from fan_det.paths import REPO_ROOT
from fan_det.robustness.detector import build_eval_model, load_config
from fan_det.robustness.finite import FiniteDetector
from fan_det.runtime.file_hashes import MEMO_DIR
from fan_det.runtime.finite import NonFiniteOutputError

CONFIG = str(REPO_ROOT / "configs" / "tiny" / "retinanet_fan_tiny_hybrid_synth.yaml")
SMALL = ["INPUT.MIN_SIZE_TEST", "64", "INPUT.MAX_SIZE_TEST", "96"]


@pytest.fixture(scope="module")
def nan_weights(tmp_path_factory):
    """The tiny RetinaNet with one NaN box-regression bias: every image's boxes are NaN."""
    model, _ = build_eval_model(load_config(CONFIG, SMALL), seed=3)
    state = model.state_dict()
    key = next(k for k in state if k.endswith("bbox_pred.bias"))
    state[key][0] = float("nan")
    path = tmp_path_factory.mktemp("weights") / "nan_boxes.pth"
    torch.save({"model": state}, path)
    return path


def refused(capsys, tool, argv) -> str:
    with pytest.raises(SystemExit) as info:
        tool(argv)
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert info.value.code == 2 and len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


def written(out) -> list[str]:
    """Results and cached cell records (the cache's key and log, and the memo of image hashes, say nothing
    was evaluated)."""
    return sorted(p.name for p in out.rglob("*") if p.is_file() and MEMO_DIR not in p.relative_to(out).parts
                  and p.name not in ("key.json", "log.jsonl", "config.yaml"))


def test_eval_coco_c_refuses_non_finite_boxes(tmp_path, capsys, nan_weights):
    out = tmp_path / "out"
    line = refused(capsys, eval_coco_c, [
        "--config", CONFIG, "--weights", str(nan_weights), "--dataset", "fan_synth_val_mini", "--corruptions",
        "fog", "--severities", "1", "--allow-partial", "--workers", "0", "--out", str(out), *SMALL])
    assert f"model {nan_weights} gave" in line and "non-finite" in line
    assert "on fan_synth_val_mini, batch 1; nothing of this run was written" in line
    assert written(out) == []


def test_eval_coco_o_refuses_non_finite_boxes(tmp_path, capsys, nan_weights):
    out = tmp_path / "out"
    line = refused(capsys, eval_coco_o, [
        "--config", CONFIG, "--weights", str(nan_weights), "--coco-o-root", str(build_tiny_coco_o_set()),
        "--domains", "sketch", "--workers", "0", "--out", str(out), *SMALL])
    assert f"model {nan_weights} gave" in line and "on coco_o_sketch, batch 1" in line
    assert written(out) == []


class _Stub(torch.nn.Module):
    """One finite detection on the first batch; then ``scores``, or detectron2's box assertion (None)."""

    def __init__(self, scores: list[float] | None):
        super().__init__()
        self.scores, self.calls = scores, 0

    def forward(self, inputs):
        self.calls += 1
        scores = [0.5] if self.calls == 1 else self.scores
        if scores is None:
            raise AssertionError("Box tensor contains infinite or NaN!")  # detectron2's own words
        instances = Instances((8, 8), pred_boxes=Boxes(torch.tensor([[0.0, 0, 4, 4]] * len(scores))),
                              scores=torch.tensor(scores))
        return [{"instances": instances}]


@pytest.mark.parametrize("scores, found", [(None, "non-finite boxes"),
                                           ([0.5, float("nan")], "1 non-finite scores")])
def test_the_box_assertion_and_nan_scores_become_the_same_refusal(scores, found):
    guard = FiniteDetector(_Stub(scores), model_label="m.pth", dataset="val")
    guard([{}])  # a finite first batch passes
    with pytest.raises(NonFiniteOutputError, match=f"model m.pth gave {found} on val, batch 2"):
        guard([{}])
