"""The detection and ImageNet-C metrics' refusals, word for word (they are what a user reads), and the
grid rules they guard: holdout cells never excuse missing benchmark cells, a clean accuracy of 0 gives
no retention, relative CE per corruption is reported."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from fan_det.metrics.corruption import IncompleteGridError
from fan_det.metrics.corruption import corruption_summary as coco_c_summary
from fan_det.metrics.detection import coco_o_summary
from fan_det.metrics.imagenet_c import imagenet_c_summary, mce, mean_accuracy

BENCHMARK = ["gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur", "motion_blur",
             "zoom_blur", "snow", "frost", "fog", "brightness", "contrast", "elastic_transform", "pixelate",
             "jpeg_compression"]
HOLDOUT = ["speckle_noise", "gaussian_blur", "spatter", "saturate"]
# COCO-O's domains (Mao et al. 2023), in the order the protocol lists them
DOMAINS = ["sketch", "cartoon", "painting", "weather", "handmake", "tattoo"]


def _cells(corruptions, seed=0) -> dict:
    rng = np.random.default_rng(seed)
    cells = {("clean", 0): {"AP": float(rng.uniform(20, 40))}}
    cells.update({(c, s): {"AP": float(rng.uniform(0, 20))} for c in corruptions for s in range(1, 6)})
    return cells


def _grid(corruptions, seed=0) -> dict:
    rng = np.random.default_rng(seed)
    return {c: {s: float(rng.uniform(10, 90)) for s in range(1, 6)} for c in corruptions}


def _message(call) -> str:
    with pytest.raises(ValueError) as info:
        call()
    return str(info.value)


def test_holdout_cells_never_excuse_missing_benchmark_cells():
    cells = _cells(BENCHMARK + HOLDOUT)
    del cells[("fog", 3)], cells[("clean", 0)]
    with pytest.raises(IncompleteGridError) as info:
        coco_c_summary(cells)
    assert info.value.missing == [("clean", 0), ("fog", 3)]
    assert str(info.value) == ("the corruption grid is incomplete: 2 cell(s) missing (clean/0, fog/3); "
                               "evaluate them or pass allow_partial=True to report a partial summary")


def test_detection_refusals_word_for_word():
    assert _message(lambda: coco_c_summary({("fog", 6): {"AP": 1.0}})) == (
        "unknown cell fog/6: expected ('clean', 0) or a benchmark or holdout corruption at severity 1-5")
    assert _message(lambda: coco_c_summary({})) == "no cells given"
    cells = _cells(BENCHMARK)
    cells[("snow", 2)] = {"AP": 1.0, "AP50": 2.0}
    assert _message(lambda: coco_c_summary(cells)) == "cell snow/2 has stats ['AP', 'AP50'], others ['AP']"
    cells[("snow", 2)] = {"AP": math.nan}
    assert _message(lambda: coco_c_summary(cells)) == "cell snow/2 has non-finite stats ['AP']"
    assert _message(lambda: coco_o_summary({})) == "no COCO-O domain given"
    assert _message(lambda: coco_o_summary({"comic": {"AP": 1.0}})) == (
        f"unknown COCO-O domain(s) ['comic']; domains: {', '.join(DOMAINS)}")
    assert _message(lambda: coco_o_summary({"sketch": {"AP": 1.0}, "tattoo": {"AP50": 2.0}})) == (
        "domain tattoo has stats ['AP50'], others ['AP']")


def test_imagenet_c_refusals_list_at_most_ten_missing_cells():
    grid = _grid(BENCHMARK)
    del grid["fog"]
    message = _message(lambda: mce(grid))
    fog = ", ".join(f"fog/{s}" for s in range(1, 6))
    assert message == f"mCE needs all 15 corruptions x severities 1-5; missing 5 cells: {fog}"
    del grid["snow"]
    snow = ", ".join(f"snow/{s}" for s in range(1, 6))
    assert _message(lambda: mce(grid)) == (
        f"mCE needs all 15 corruptions x severities 1-5; missing 10 cells: {snow}, {fog}")
    del grid["brightness"]
    assert _message(lambda: mean_accuracy(grid, tuple(BENCHMARK))) == (
        f"mean accuracy over 15 corruptions is missing cells: {snow}, {fog} ...")
    assert re.fullmatch(r"mean accuracy over 19 corruptions is missing cells: .* \.\.\.",
                        _message(lambda: mean_accuracy(grid, tuple(BENCHMARK + HOLDOUT))))
    one_short = _grid(BENCHMARK)
    del one_short["fog"][5]
    assert _message(lambda: mean_accuracy(one_short, tuple(BENCHMARK))) == (
        "mean accuracy over 15 corruptions is missing cells: fog/5")
    ten = _grid(BENCHMARK)
    del ten["snow"], ten["fog"]  # ten cells missing: all named, no ellipsis; the eleventh adds it
    assert _message(lambda: mean_accuracy(ten, tuple(BENCHMARK))) == (
        f"mean accuracy over 15 corruptions is missing cells: {snow}, {fog}")
    del ten["brightness"][3]
    assert _message(lambda: mean_accuracy(ten, tuple(BENCHMARK))) == (
        f"mean accuracy over 15 corruptions is missing cells: {snow}, {fog} ...")
    assert _message(lambda: mce(ten)) == (
        f"mCE needs all 15 corruptions x severities 1-5; missing 11 cells: {snow}, {fog} ...")


def test_relative_ce_is_reported_per_corruption_and_zero_clean_accuracy_gives_no_retention():
    errors = _grid(BENCHMARK, seed=1)
    out = mce(errors, clean_error=20.0)
    alexnet_fog, alexnet_clean = 0.819324, 0.4348  # Hendrycks & Dietterich 2019
    fog = sum(errors["fog"].values()) / 5
    assert out["relative_ce"]["fog"] == pytest.approx((fog - 20.0) / (alexnet_fog - alexnet_clean))
    assert set(out["relative_ce"]) == set(BENCHMARK)
    summary = imagenet_c_summary(_grid(BENCHMARK), clean_accuracy=0.0)
    assert "retention" not in summary and "mean_acc_15" in summary


def test_more_than_ten_missing_cells_are_cut_with_an_ellipsis_and_bad_proportions_refused():
    grid = _grid(BENCHMARK)
    for name in ("snow", "fog", "brightness"):
        del grid[name]
    snow, fog = (", ".join(f"{c}/{s}" for s in range(1, 6)) for c in ("snow", "fog"))
    assert _message(lambda: mce(grid)) == (
        f"mCE needs all 15 corruptions x severities 1-5; missing 15 cells: {snow}, {fog} ...")
    from fan_det.metrics.classification import wilson_interval

    assert _message(lambda: wilson_interval(0, 0)) == (
        "a proportion needs 0 <= successes <= total and total > 0, got 0/0")
    for level in (0.0, 1.0, 1.5):
        message = _message(lambda v=level: wilson_interval(3, 10, v))
        assert message == f"confidence must be in (0, 1), got {level}"
