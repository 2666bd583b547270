"""A segmenter giving non-finite logits is refused with one line naming the model, the cell and the
batch, in eval_city_c, with nothing of the run written, instead of scoring argmax(NaN) = class 0 as a
prediction; an unreadable label file, with one line naming it instead of a traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from reliability_skip_bad_helpers import truncate
from test_reliability_robustness_outputs import refused, written

from fan_det.data.register import register_tiny_datasets
from fan_det.eval_city_c import main as eval_city_c
from fan_det.robustness.detector import build_eval_model, load_config
from fan_det.robustness.finite import FiniteDetector
from fan_det.runtime.finite import NonFiniteOutputError

CONFIG = "Misc/semantic_R_50_FPN_1x.yaml"
OPTS = ["MODEL.SEM_SEG_HEAD.NUM_CLASSES", "5", "INPUT.MIN_SIZE_TEST", "64", "INPUT.MAX_SIZE_TEST", "64",
        "MODEL.RESNETS.DEPTH", "18", "MODEL.RESNETS.RES2_OUT_CHANNELS", "64"]


def test_eval_city_c_refuses_non_finite_logits(tmp_path, capsys):
    register_tiny_datasets()
    model, _ = build_eval_model(load_config(CONFIG, OPTS), seed=3)
    state = model.state_dict()
    key = next(k for k in state if k.startswith("sem_seg_head.predictor") and k.endswith("bias"))
    state[key][2] = float("nan")  # one class's logit is NaN at every pixel
    weights = tmp_path / "nan_logits.pth"
    torch.save({"model": state}, weights)
    out = tmp_path / "out"
    line = refused(capsys, eval_city_c, [
        "--config", CONFIG, "--weights", str(weights), "--dataset", "fan_synth_seg_val",
        "--corruptions", "fog", "--severities", "1", "--allow-partial", "--workers", "0", "--threads", "1",
        "--out", str(out), *OPTS])
    assert f"model {weights} gave" in line and "non-finite" in line
    assert "on fan_synth_seg_val, batch 1; nothing of this run was written" in line
    assert written(out) == []


class _Segmenter(torch.nn.Module):
    """Finite logits on the first batch, then one NaN pixel."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, inputs):
        self.calls += 1
        logits = torch.rand(5, 4, 4)
        if self.calls > 1:
            logits[3, 1, 2] = float("nan")
        return [{"sem_seg": logits}]


def test_nan_segmentation_logits_are_refused_at_their_batch():
    guard = FiniteDetector(_Segmenter(), model_label="m.pth", dataset="val fog severity 1")
    guard([{}])  # a finite first batch passes
    found = "model m.pth gave 1 non-finite segmentation logits on val fog severity 1, batch 2"
    with pytest.raises(NonFiniteOutputError, match=found):
        guard([{}])


def test_eval_city_c_refuses_an_unreadable_label_file_in_one_line(tmp_path, capsys):
    """Ground truth is not an image to skip: a truncated label file is refused before any inference, in one
    line naming it, under --skip-bad too."""
    from detectron2.data import DatasetCatalog, MetadataCatalog

    register_tiny_datasets()
    records = []
    for record in DatasetCatalog.get("fan_synth_seg_val")[:2]:  # copies: the shared set is never written
        label = tmp_path / Path(record["sem_seg_file_name"]).name
        shutil.copy(record["sem_seg_file_name"], label)
        records.append({**record, "sem_seg_file_name": str(label)})
    truncate(Path(records[1]["sem_seg_file_name"]))
    name = f"bad_label_{tmp_path.name}"
    DatasetCatalog.register(name, lambda: [dict(r) for r in records])
    source = MetadataCatalog.get("fan_synth_seg_val")
    MetadataCatalog.get(name).set(image_root=source.image_root, stuff_classes=source.stuff_classes,
                                  ignore_label=source.ignore_label, evaluator_type="sem_seg")
    out = tmp_path / "out"
    line = refused(capsys, eval_city_c, [
        "--config", CONFIG, "--random-init", "--dataset", name, "--corruptions", "fog", "--severities", "1",
        "--allow-partial", "--skip-bad", "--workers", "0", "--threads", "1", "--out", str(out), *OPTS])
    assert line.startswith(f"error: cannot read label file {records[1]['sem_seg_file_name']}"), line
    assert "never skipped" in line
    assert written(out) == []
