"""Identities the metrics must satisfy on any input, checked on random grids (hypothesis), each against
an independent re-statement of the definition (Michaelis et al. 2019; Hendrycks & Dietterich 2019;
Wilson 1927), never against the code under test."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from fan_det.metrics.classification import retention, wilson_interval
from fan_det.metrics.corruption import corruption_summary as coco_c_summary
from fan_det.metrics.corruption import percentile_interval
from fan_det.metrics.imagenet_c import imagenet_c_summary, mce

# The 15 benchmark corruptions by family and the 4 holdout ones (Hendrycks & Dietterich 2019, Table 1).
FAMILIES = {"noise": ["gaussian_noise", "shot_noise", "impulse_noise"],
            "blur": ["defocus_blur", "glass_blur", "motion_blur", "zoom_blur"],
            "weather": ["snow", "frost", "fog", "brightness"],
            "digital": ["contrast", "elastic_transform", "pixelate", "jpeg_compression"]}
BENCHMARK = [c for names in FAMILIES.values() for c in names]
HOLDOUT = ["speckle_noise", "gaussian_blur", "spatter", "saturate"]
# AlexNet's mean top-1 error per corruption (Hendrycks & Dietterich 2019, appendix) and clean error
ALEXNET = {"gaussian_noise": 0.886428, "shot_noise": 0.894468, "impulse_noise": 0.922640,
           "defocus_blur": 0.819880, "glass_blur": 0.826268, "motion_blur": 0.785948, "zoom_blur": 0.798360,
           "snow": 0.866816, "frost": 0.826572, "fog": 0.819324, "brightness": 0.564592,
           "contrast": 0.853204, "elastic_transform": 0.646056, "pixelate": 0.717840,
           "jpeg_compression": 0.606500}
ALEXNET_CLEAN = 0.4348

percent = st.floats(0.0, 100.0, allow_nan=False)
positive_percent = st.floats(0.5, 100.0, allow_nan=False)
grid_values = st.lists(percent, min_size=75, max_size=75)


def _grid(values: list[float]) -> dict[str, dict[int, float]]:
    return {c: {s: values[5 * i + s - 1] for s in range(1, 6)} for i, c in enumerate(BENCHMARK)}


def _cells(clean: float, grid: dict[str, dict[int, float]]) -> dict:
    cells = {("clean", 0): {"AP": clean}}
    cells.update({(c, s): {"AP": v} for c, row in grid.items() for s, v in row.items()})
    return cells


@settings(max_examples=60, deadline=None)
@given(clean=positive_percent, values=grid_values, holdout=st.lists(percent, min_size=20, max_size=20),
       order=st.randoms(use_true_random=False))
def test_mpc_is_the_mean_of_corruption_means_and_rpc_its_ratio_to_p(clean, values, holdout, order):
    grid = _grid(values)
    cells = _cells(clean, grid)
    held = {(c, s): {"AP": holdout[5 * i + s - 1]} for i, c in enumerate(HOLDOUT) for s in range(1, 6)}
    items = list({**cells, **held}.items())
    order.shuffle(items)  # the order cells arrive in changes nothing
    ap = coco_c_summary(dict(items))["stats"]["AP"]

    mpc = math.fsum(math.fsum(row.values()) / 5 for row in grid.values()) / 15
    assert ap["P"] == clean
    assert ap["mPC"] == pytest.approx(mpc, rel=1e-12, abs=1e-12)
    assert ap["rPC"] == pytest.approx(100 * mpc / clean, rel=1e-12, abs=1e-12)
    assert min(values) - 1e-9 <= ap["mPC"] <= max(values) + 1e-9
    for family, names in FAMILIES.items():
        expected = math.fsum(math.fsum(grid[c].values()) / 5 for c in names) / len(names)
        assert ap["per_family"][family] == pytest.approx(expected, rel=1e-12, abs=1e-12)
    for s in range(1, 6):
        expected = math.fsum(grid[c][s] for c in BENCHMARK) / 15
        assert ap["per_severity"][str(s)] == pytest.approx(expected, rel=1e-12, abs=1e-12)
    # the mean of the cells equals the mean of the family means weighted by family size
    weighted = math.fsum(ap["per_family"][f] * len(n) for f, n in FAMILIES.items()) / 15
    assert weighted == pytest.approx(ap["mPC"], rel=1e-12, abs=1e-12)
    # holdout corruptions are reported apart and never move mPC
    without = coco_c_summary(cells)["stats"]["AP"]
    assert without["mPC"] == ap["mPC"]
    holdout_mpc = math.fsum(math.fsum(h["AP"] for (c, _), h in held.items() if c == name) / 5
                            for name in HOLDOUT) / 4
    assert coco_c_summary(dict(items))["holdout"]["AP"]["mPC"] == pytest.approx(holdout_mpc, rel=1e-12,
                                                                                  abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(clean=positive_percent, values=grid_values, factor=st.floats(0.1, 1.0))
def test_scaling_every_corrupted_cell_scales_mpc_and_rpc_alike(clean, values, factor):
    base = coco_c_summary(_cells(clean, _grid(values)))["stats"]["AP"]
    scaled = coco_c_summary(_cells(clean, _grid([v * factor for v in values])))["stats"]["AP"]
    assert scaled["mPC"] == pytest.approx(base["mPC"] * factor, rel=1e-9, abs=1e-9)
    assert scaled["rPC"] == pytest.approx(base["rPC"] * factor, rel=1e-9, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(values=grid_values, clean_error=st.floats(0.0, 40.0))
def test_mce_and_relative_mce_follow_their_definitions(values, clean_error):
    errors = _grid(values)
    out = mce(errors, clean_error)
    ce = {c: math.fsum(errors[c].values()) / math.fsum([ALEXNET[c]] * 5) for c in BENCHMARK}
    rel = {c: math.fsum(e - clean_error for e in errors[c].values()) / (5 * (ALEXNET[c] - ALEXNET_CLEAN))
           for c in BENCHMARK}
    assert out["ce"] == pytest.approx(ce, rel=1e-12, abs=1e-9)
    assert out["mce"] == pytest.approx(math.fsum(ce.values()) / 15, rel=1e-12, abs=1e-9)
    assert out["relative_mce"] == pytest.approx(math.fsum(rel.values()) / 15, rel=1e-12, abs=1e-9)
    assert mce(errors)["mce"] == out["mce"]  # the clean error only enters the relative figures


@settings(max_examples=60, deadline=None)
@given(values=grid_values, clean=positive_percent)
def test_imagenet_c_summary_is_mce_of_the_errors_and_retention_the_ratio(values, clean):
    accuracies = _grid(values)
    out = imagenet_c_summary(accuracies, clean)
    errors = {c: {s: 100.0 - a for s, a in row.items()} for c, row in accuracies.items()}
    mean15 = math.fsum(math.fsum(row.values()) / 5 for row in accuracies.values()) / 15
    assert out["mce"] == pytest.approx(mce(errors)["mce"], rel=1e-12, abs=1e-9)
    assert out["mean_acc_15"] == pytest.approx(mean15, rel=1e-12, abs=1e-12)
    assert out["retention"] == pytest.approx(100 * mean15 / clean, rel=1e-12, abs=1e-12)
    assert retention(out["mean_acc_15"], clean) == out["retention"]
    assert "mean_acc_19" not in out  # the holdout corruptions are not there


@settings(max_examples=300, deadline=None)
@given(total=st.integers(1, 10**6), data=st.data(),
       levels=st.tuples(st.floats(0.5, 0.999), st.floats(0.5, 0.999)))
def test_wilson_interval_holds_its_estimate_and_nests_by_confidence(total, data, levels):
    successes = data.draw(st.integers(0, total))
    low_level, high_level = sorted(levels)
    lo, hi = wilson_interval(successes, total, low_level)
    estimate = 100 * successes / total
    assert 0.0 <= lo <= estimate <= hi <= 100.0
    wide_lo, wide_hi = wilson_interval(successes, total, high_level)
    assert wide_lo <= lo + 1e-9 and hi <= wide_hi + 1e-9
    # failures' interval mirrors successes'
    f_lo, f_hi = wilson_interval(total - successes, total, low_level)
    assert (f_lo, f_hi) == pytest.approx((100 - hi, 100 - lo), abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=300),
       junk=st.lists(st.sampled_from([math.nan, math.inf, -math.inf]), max_size=5),
       level=st.floats(0.5, 0.99))
def test_percentile_interval_is_ordered_inside_the_draws_and_holds_their_median(values, junk, level):
    lo, hi = percentile_interval(values + junk, level)
    finite = np.asarray(values)
    assert finite.min() <= lo <= float(np.median(finite)) <= hi <= finite.max()
    # the same central fraction of the draws, counted independently: at most (1 - level) outside
    outside = np.sum((finite < lo) | (finite > hi))
    assert outside <= math.ceil((1 - level) * len(values)) + 1


@settings(max_examples=100, deadline=None)
@given(values=st.lists(st.floats(0, 100), min_size=2, max_size=200))
def test_percentile_interval_of_draws_mirrored_about_the_estimate_is_centred_on_it(values):
    # the percentile bootstrap does not in general contain its estimate; it does, centred, when the
    # resampled values are mirrored about it
    assume(len(set(values)) > 1)
    estimate = float(np.mean(values))
    draws = [estimate + d for d in values] + [estimate - d for d in values]
    lo, hi = percentile_interval(draws, 0.95)
    assert lo <= estimate <= hi
    assert estimate - lo == pytest.approx(hi - estimate, rel=1e-9, abs=1e-9)
    assert percentile_interval([math.nan], 0.95) is None


def test_percentile_interval_defaults_to_the_central_95_percent():
    # 0, 1, ..., 100: the 2.5th and 97.5th percentiles (linear interpolation) are 2.5 and 97.5
    values = np.random.default_rng(4).permutation(np.arange(101.0))
    interval = percentile_interval(np.concatenate([values, [np.nan, np.inf]]))
    assert interval == pytest.approx([2.5, 97.5], rel=1e-12)
    assert percentile_interval([np.nan, -np.inf]) is None
