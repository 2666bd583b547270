"""Refusals before anything runs, and detection weights loaded into a segmentation model."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from detectron2.modeling import build_model

from fan_det.detection.weights import load_detector_weights
from fan_det.models import CheckpointMismatchError
from fan_det.paths import REPO_ROOT
from fan_det.train import load_config

SEG = REPO_ROOT / "configs" / "tiny" / "segformer_fan_tiny_hybrid_synth.yaml"
DET = REPO_ROOT / "configs" / "tiny" / "retinanet_fan_tiny_hybrid_synth.yaml"


@pytest.mark.parametrize(("opts", "message"), [
    (["TEST.SEM_SEG.STRIDE", "(96, 96)"], "error: TEST.SEM_SEG.STRIDE (96, 96) exceeds CROP_SIZE (64, 64)"),
    (["TEST.SEM_SEG.STRIDE", "(0, 48)"], "error: TEST.SEM_SEG.CROP_SIZE (64, 64) and STRIDE (0, 48) must be"),
])
def test_unworkable_sliding_windows_are_refused_before_anything_runs(opts, message, tmp_path):
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "fan_det.train", "--config", str(SEG), *opts,
                             "OUTPUT_DIR", str(out)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(message) and "Traceback" not in result.stderr
    assert not out.exists()  # refused before the run set anything up


@pytest.fixture(scope="module")
def detector_checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    detector = build_model(load_config(str(DET)))
    path = tmp_path_factory.mktemp("det") / "retinanet.pth"
    torch.save({"model": detector.state_dict()}, path)
    return path, detector.state_dict()


def _segmenter():
    torch.manual_seed(1)
    return build_model(load_config(str(SEG)))


def test_detection_weights_are_refused_whole_naming_what_is_left(detector_checkpoint):
    path, _ = detector_checkpoint
    with pytest.raises(CheckpointMismatchError) as error:
        load_detector_weights(_segmenter(), str(path))
    message = str(error.value)
    assert "missing (e.g. sem_seg_head." in message  # the head is not in a detector checkpoint
    assert "unexpected (e.g. " in message and "--allow-partial-weights" in message


def test_detection_weights_transfer_the_trunk_with_allow_partial(detector_checkpoint):
    path, state = detector_checkpoint
    model = _segmenter()
    head_before = {k: v.clone() for k, v in model.state_dict().items() if k.startswith("sem_seg_head.")}
    report = load_detector_weights(model, str(path), allow_partial=True)
    trunk = {k.removeprefix("backbone.bottom_up."): v for k, v in state.items()
             if k.startswith("backbone.bottom_up.") and not k.startswith("backbone.bottom_up.res5_conv.")}
    loaded = model.state_dict()
    assert trunk and all(torch.equal(loaded[f"backbone.{k}"], v) for k, v in trunk.items())
    assert sorted(report.missing) == sorted(head_before)  # exactly the head is left out
    assert all(torch.equal(loaded[k], v) for k, v in head_before.items())  # and keeps its initialisation
    unexpected = set(report.unexpected)
    assert {"backbone.res5_conv.weight", "backbone.res5_conv.bias"} <= unexpected  # the stride-32 conv
    assert all(k.startswith(("backbone.fpn_", "backbone.top_block.", "backbone.res5_conv.", "head."))
               for k in unexpected)
