"""corruption_summary: P, mPC, rPC and the breakdowns, checked against grids computed here by hand."""

import numpy as np
import pytest

from fan_det.metrics import IncompleteGridError, corruption_summary

# Retyped from docs/metrics.md, independently of fan_det.corruptions.
FAMILIES = {
    "noise": ["gaussian_noise", "shot_noise", "impulse_noise"],
    "blur": ["defocus_blur", "glass_blur", "motion_blur", "zoom_blur"],
    "weather": ["snow", "frost", "fog", "brightness"],
    "digital": ["contrast", "elastic_transform", "pixelate", "jpeg_compression"],
}
BENCHMARK = [c for names in FAMILIES.values() for c in names]
HOLDOUT = ["speckle_noise", "gaussian_blur", "spatter", "saturate"]
STATS = ["AP", "AP50", "AP75", "APs", "APm", "APl"]
ALL_STATS = STATS + [f"segm/{s}" for s in STATS]


def test_hand_computed_grid():
    # AP(c, s) = 30 - 2 s, plus 3 for the noise family; clean 40.
    cells = {("clean", 0): {"AP": 40.0}}
    for c in BENCHMARK:
        for s in range(1, 6):
            cells[(c, s)] = {"AP": 30.0 - 2 * s + (3.0 if c in FAMILIES["noise"] else 0.0)}
    summary = corruption_summary(cells)
    ap = summary["stats"]["AP"]
    assert summary["partial"] is False and summary["missing"] == []
    assert len(summary["cells_used"]) == 75 and ["clean", 0] not in summary["cells_used"]
    assert ap["P"] == 40.0
    assert ap["mPC"] == pytest.approx(24.6)  # 24 + 3 * 3 / 15
    assert ap["rPC"] == pytest.approx(61.5)
    assert ap["per_corruption"]["shot_noise"] == pytest.approx(27.0)
    assert ap["per_corruption"]["fog"] == pytest.approx(24.0)
    assert ap["per_family"] == pytest.approx({"noise": 27.0, "blur": 24.0, "weather": 24.0, "digital": 24.0})
    assert ap["per_severity"] == pytest.approx({"1": 28.6, "2": 26.6, "3": 24.6, "4": 22.6, "5": 20.6})
    assert "holdout" not in summary


def test_random_grid_with_mask_stats_and_holdout():
    rng = np.random.default_rng(7)
    bench = rng.uniform(5, 60, size=(15, 5, len(ALL_STATS)))
    hold = rng.uniform(5, 60, size=(4, 5, len(ALL_STATS)))
    clean = rng.uniform(30, 70, size=len(ALL_STATS))
    cells = {("clean", 0): dict(zip(ALL_STATS, clean.tolist(), strict=True))}
    for grid, names in ((bench, BENCHMARK), (hold, HOLDOUT)):
        for i, c in enumerate(names):
            for s in range(1, 6):
                cells[(c, s)] = dict(zip(ALL_STATS, grid[i, s - 1].tolist(), strict=True))

    summary = corruption_summary(cells)
    assert set(summary["stats"]) == set(ALL_STATS) == set(summary["holdout"])
    assert len(summary["cells_used"]) == 95
    for k, name in enumerate(ALL_STATS):
        got, ref = summary["stats"][name], bench[:, :, k]
        assert got["P"] == pytest.approx(clean[k])
        assert got["mPC"] == pytest.approx(ref.mean())
        assert got["rPC"] == pytest.approx(100 * ref.mean() / clean[k])
        assert got["per_corruption"] == pytest.approx(dict(zip(BENCHMARK, ref.mean(axis=1), strict=True)))
        assert list(got["per_corruption"]) == BENCHMARK
        start = 0
        for family, members in FAMILIES.items():
            assert got["per_family"][family] == pytest.approx(ref[start:start + len(members)].mean())
            start += len(members)
        assert got["per_severity"] == pytest.approx({str(s + 1): ref[:, s].mean() for s in range(5)})
        held = summary["holdout"][name]
        assert held["mPC"] == pytest.approx(hold[:, :, k].mean())
        assert held["rPC"] == pytest.approx(100 * hold[:, :, k].mean() / clean[k])
        per_holdout = dict(zip(HOLDOUT, hold[:, :, k].mean(axis=1), strict=True))
        assert held["per_corruption"] == pytest.approx(per_holdout)
    # The holdout never leaks into the benchmark figures.
    assert not set(HOLDOUT) & set(summary["stats"]["AP"]["per_corruption"])


def _full_grid(rng):
    cells = {("clean", 0): {"AP": 50.0, "segm/AP": 45.0}}
    for c in BENCHMARK:
        for s in range(1, 6):
            cells[(c, s)] = {"AP": float(rng.uniform(10, 40)), "segm/AP": float(rng.uniform(10, 40))}
    return cells


def test_incomplete_grid_is_refused_with_missing_cells_named():
    cells = _full_grid(np.random.default_rng(1))
    del cells[("clean", 0)], cells[("fog", 3)], cells[("jpeg_compression", 5)]
    with pytest.raises(IncompleteGridError) as info:
        corruption_summary(cells)
    assert info.value.missing == [("clean", 0), ("fog", 3), ("jpeg_compression", 5)]
    for name in ("clean/0", "fog/3", "jpeg_compression/5"):
        assert name in str(info.value)


def test_incomplete_holdout_is_refused():
    cells = _full_grid(np.random.default_rng(2))
    cells[("spatter", 2)] = {"AP": 20.0, "segm/AP": 18.0}
    with pytest.raises(IncompleteGridError) as info:
        corruption_summary(cells)
    assert ("spatter", 1) in info.value.missing and ("saturate", 5) in info.value.missing
    assert len(info.value.missing) == 19


def test_partial_mode_names_cells_and_averages_only_those():
    rng = np.random.default_rng(3)
    g = rng.uniform(10, 40, size=3)
    cells = {
        ("clean", 0): {"AP": 44.0},
        ("gaussian_noise", 1): {"AP": g[0]},
        ("gaussian_noise", 2): {"AP": g[1]},
        ("fog", 2): {"AP": g[2]},
    }
    summary = corruption_summary(cells, allow_partial=True)
    ap = summary["stats"]["AP"]
    assert summary["partial"] is True
    assert summary["cells_used"] == [["gaussian_noise", 1], ["gaussian_noise", 2], ["fog", 2]]
    assert len(summary["missing"]) == 72 and ["fog", 1] in summary["missing"]
    # mPC: mean over corruptions of the mean over the severities present (not a mean with zeros).
    mpc = ((g[0] + g[1]) / 2 + g[2]) / 2
    assert ap["mPC"] == pytest.approx(mpc)
    assert ap["rPC"] == pytest.approx(100 * mpc / 44.0)
    assert ap["per_family"] == pytest.approx({"noise": (g[0] + g[1]) / 2, "weather": g[2]})
    assert ap["per_severity"] == pytest.approx({"1": g[0], "2": (g[1] + g[2]) / 2})


def test_partial_without_clean_has_no_p_or_rpc():
    summary = corruption_summary({("snow", 4): {"AP": 12.5}}, allow_partial=True)
    ap = summary["stats"]["AP"]
    assert ["clean", 0] in summary["missing"]
    assert "P" not in ap and "rPC" not in ap and ap["mPC"] == 12.5


def test_complete_grid_with_allow_partial_is_not_partial():
    summary = corruption_summary(_full_grid(np.random.default_rng(4)), allow_partial=True)
    assert summary["partial"] is False and summary["missing"] == []


@pytest.mark.parametrize(
    "cells",
    [
        {("clean", 0): {"AP": 1.0}, ("not_a_corruption", 1): {"AP": 1.0}},
        {("clean", 0): {"AP": 1.0}, ("fog", 6): {"AP": 1.0}},
        {("clean", 0): {"AP": 1.0}, ("fog", 1): {"AP": 1.0, "AP50": 2.0}},
        {("clean", 0): {"AP": 1.0}, ("fog", 1): {"AP": float("nan")}},
    ],
)
def test_malformed_cells_are_refused(cells):
    with pytest.raises(ValueError):
        corruption_summary(cells, allow_partial=True)
