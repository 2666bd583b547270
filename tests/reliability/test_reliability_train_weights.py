"""Promises of ``load_detector_weights``: a detector checkpoint loads whole; anything that does not fit is
refused with the key report unless a partial load is asked for; a checkpoint never runs code."""

from __future__ import annotations

import os
import pickle

import pytest
import torch
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.modeling import build_model
from reliability_train_helpers import TINY

from fan_det.detection import WeightsError, load_detector_weights
from fan_det.models.checkpoint import CheckpointMismatchError
from fan_det.train import load_config


def _detector(*opts: str, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_model(load_config(TINY, list(opts)))


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_detector_checkpoint_loads_every_tensor(tmp_path):
    source = _detector(seed=1)
    DetectionCheckpointer(source, str(tmp_path)).save("model")
    target = _detector(seed=2)
    report = load_detector_weights(target, str(tmp_path / "model.pth"))
    assert report.ok
    assert _same(target.state_dict(), source.state_dict())


def test_wrong_shapes_are_refused_and_the_model_is_left_untouched(tmp_path):
    DetectionCheckpointer(_detector("MODEL.RETINANET.NUM_CLASSES", "5"), str(tmp_path)).save("five")
    target = _detector()
    before = {k: v.clone() for k, v in target.state_dict().items()}
    expected = r"0 missing; 0 unexpected; 2 wrong shape \(e\.g\. head\.cls_score\.weight \[15, 64, 3, 3\] vs"
    with pytest.raises(CheckpointMismatchError, match=expected):
        load_detector_weights(target, str(tmp_path / "five.pth"))
    assert _same(target.state_dict(), before)


def test_partial_load_loads_what_fits_and_prints_the_report(tmp_path, capsys):
    source = _detector("MODEL.RETINANET.NUM_CLASSES", "5", seed=1)
    DetectionCheckpointer(source, str(tmp_path)).save("five")
    target = _detector(seed=2)
    init_cls = target.head.cls_score.weight.detach().clone()
    report = load_detector_weights(target, str(tmp_path / "five.pth"), allow_partial=True)
    assert sorted(k for k, _, _ in report.mismatched) == ["head.cls_score.bias", "head.cls_score.weight"]
    assert torch.equal(target.head.cls_score.weight, init_cls)  # kept its initialisation
    assert torch.equal(target.head.bbox_pred.weight, source.head.bbox_pred.weight)
    err = capsys.readouterr().err
    assert "PARTIAL LOAD" in err and "head.cls_score.weight: [15, 64, 3, 3] vs [12, 64, 3, 3]" in err


def test_model_zoo_pkl_of_arrays_loads(tmp_path):
    source = _detector(seed=1)
    arrays = {k: v.numpy() for k, v in source.state_dict().items()}
    (tmp_path / "zoo.pkl").write_bytes(pickle.dumps({"model": arrays, "__author__": "test"}))
    target = _detector(seed=2)
    assert load_detector_weights(target, str(tmp_path / "zoo.pkl")).ok
    assert _same(target.state_dict(), source.state_dict())


class _Payload:
    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_pkl_that_would_run_code_is_refused_and_runs_nothing(tmp_path):
    payload = _Payload()
    payload.marker = tmp_path / "ran"
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"model": {"w": payload}}))
    with pytest.raises(WeightsError, match="is not a detectron2 model-zoo .pkl of arrays"):
        load_detector_weights(_detector(), str(tmp_path / "evil.pkl"))
    assert not payload.marker.exists()


def test_absent_file_and_no_weights_are_refused(tmp_path):
    with pytest.raises(WeightsError, match="no weights file at"):
        load_detector_weights(_detector(), str(tmp_path / "absent.pth"))
    with pytest.raises(WeightsError, match="no weights given"):
        load_detector_weights(_detector(), "")
