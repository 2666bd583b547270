"""Segmentation metrics at their edges: each refusal's whole line, the boundaries of the class ids and of
the checks, a single scored class, and no numpy warning where a class has no pixel at all."""

import json
import warnings

import numpy as np
import pytest

from fan_det.metrics import segmentation as seg
from fan_det.protocol import Protocol

GRID = Protocol("grid", ("fog", "snow"), (1, 3), {"weather": ("fog", "snow")}, "a test grid")


def _refusal(call, *args, **kwargs) -> str:
    with pytest.raises(ValueError) as error:
        call(*args, **kwargs)
    return str(error.value)


def test_a_missing_cell_is_named_with_its_protocol_and_the_fix():
    with pytest.raises(seg.IncompleteProtocolError) as error:
        seg.protocol_summary({("fog", 1): 61.5, ("snow", 3): 12.25}, GRID)
    assert str(error.value) == ("the grid lacks 3 cell(s) of protocol 'grid' (clean/0, fog/3, snow/1); "
                                "evaluate them or allow a partial summary")
    assert error.value.missing == [("clean", 0), ("fog", 3), ("snow", 1)]


def test_confusion_matrix_refusals_name_the_value_and_the_class_range():
    gt, pred = np.array([[0, 2, 1], [1, 1, 0]]), np.array([[0, 1], [2, 2], [1, 0]])
    assert _refusal(seg.confusion_matrix, gt, pred, 3) == (
        "ground truth (2, 3) and prediction (3, 2) differ in shape")
    # the first id past the last class: counted, it would land in the next row's first cell
    assert _refusal(seg.confusion_matrix, np.array([0, 1, 1]), np.array([1, 3, 0]), 3) == (
        "predicted class value 3 is neither a class id (0..2) nor the ignore value 255")
    assert _refusal(seg.confusion_matrix, np.array([0, 5, 4]), np.array([1, 0, 0]), 4) == (
        "ground-truth label value 5 is neither a class id (0..3) nor the ignore value 255")


def test_one_scored_class_is_its_own_mean_and_means_are_plain_floats():
    m = np.array([[3, 1], [0, 0]])  # class 1: no ground truth, never predicted either
    assert seg.class_iou(m)[0] == 75.0 and np.isnan(seg.class_iou(m)[1])
    assert seg.mean_iou(m) == 75.0 and type(seg.mean_iou(m)) is float
    stack = seg.mean_iou(np.stack([m, np.zeros((2, 2), dtype=np.int64)]))
    assert stack.shape == (2,) and stack[0] == 75.0 and np.isnan(stack[1])


def test_classes_without_any_pixel_raise_no_numpy_warning():
    m = np.array([[2, 0, 1], [0, 0, 0], [1, 0, 3]])  # class 1 in neither truth nor prediction
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        iou = seg.class_iou(m)
        empty = seg.mean_iou(np.zeros((3, 3), dtype=np.int64))
        stats = seg.cell_stats(m, ["road", "car", "sky"])
    assert iou[0] == 50.0 and np.isnan(iou[1]) and iou[2] == 60.0  # 2 / (3 + 3 - 2), 3 / (4 + 4 - 3)
    assert np.isnan(empty)
    # a cell's record is what segmentation.json stores: it must survive JSON as it is
    assert json.loads(json.dumps(stats)) == {"mIoU": 55.0, "IoU": {"road": 50.0, "sky": 60.0},
                                             "excluded": ["car"]}


def test_class_names_must_match_the_matrix():
    assert _refusal(seg.cell_stats, np.eye(3, dtype=np.int64), ["road", "car"]) == (
        "2 class names for a 3-class matrix")


def test_retention_below_one_and_refusals():
    assert seg.retention(0.25, 0.5) == 50.0
    assert _refusal(seg.retention, 10.0, -5.0) == "retention needs a positive clean mIoU, got -5.0"
    assert _refusal(seg.retention, 10.0, float("nan")) == "retention needs a positive clean mIoU, got nan"


def test_a_clean_miou_below_one_still_gives_retention_and_zero_gives_none():
    cells = {("fog", 1): 0.5, ("fog", 3): 0.25, ("snow", 1): 0.125, ("snow", 3): 0.125}
    out = seg.protocol_summary({("clean", 0): 0.75, **cells}, GRID)
    assert out["mPC"] == 0.25 and out["rPC"] == pytest.approx(100 / 3)  # (0.375 + 0.125) / 2 of 0.75
    zero = seg.protocol_summary({("clean", 0): 0.0, **cells}, GRID)
    assert zero["P"] == 0.0 and zero["mPC"] == 0.25 and "rPC" not in zero


def test_resample_weights_bounds_and_refusals():
    two = seg.resample_weights(5, 2, 9)
    draws = np.random.default_rng(9).integers(0, 5, size=(2, 5))
    assert two.tolist() == [[int(np.sum(row == i)) for i in range(5)] for row in draws]
    assert seg.resample_weights(1, 3, 0).tolist() == [[1], [1], [1]]  # one image: drawn once each time
    assert _refusal(seg.resample_weights, 4, 1, 0) == "resamples must be at least 2, got 1"
    assert _refusal(seg.resample_weights, 0, 5, 0) == "no image to resample"
