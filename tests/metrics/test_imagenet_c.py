"""ImageNet-C metrics: mCE / relative mCE on a made-up error table, means over 15 and 19, retention."""

import numpy as np
import pytest

from fan_det.metrics.imagenet_c import (
    ALEXNET_CLEAN_ERROR,
    ALEXNET_ERRORS,
    imagenet_c_summary,
    mce,
    mean_accuracy,
)
from fan_det.protocol import BENCHMARK, HOLDOUT

# metrics.md's AlexNet table, by name
SPEC_ALEXNET = {
    "gaussian_noise": 0.886428, "shot_noise": 0.894468, "impulse_noise": 0.922640, "defocus_blur": 0.819880,
    "glass_blur": 0.826268, "motion_blur": 0.785948, "zoom_blur": 0.798360, "snow": 0.866816,
    "frost": 0.826572, "fog": 0.819324, "brightness": 0.564592, "contrast": 0.853204,
    "elastic_transform": 0.646056, "pixelate": 0.717840, "jpeg_compression": 0.606500,
}


def _grid(names, seed, lo=20.0, hi=90.0):
    rng = np.random.default_rng(seed)
    return {c: {s: float(rng.uniform(lo, hi)) for s in range(1, 6)} for c in names}


def test_tables_match_the_spec_and_the_corruption_names():
    assert ALEXNET_ERRORS == SPEC_ALEXNET
    assert ALEXNET_CLEAN_ERROR == 0.4348
    assert tuple(ALEXNET_ERRORS) == BENCHMARK  # keyed by every benchmark corruption, in protocol order


def test_mce_and_relative_mce_against_the_definition():
    errors = _grid(BENCHMARK, seed=0)
    clean = 23.85
    ce = [sum(errors[c].values()) / (5 * 100 * SPEC_ALEXNET[c]) for c in SPEC_ALEXNET]
    rel = [sum(e - clean for e in errors[c].values()) / (5 * 100 * (SPEC_ALEXNET[c] - 0.4348))
           for c in SPEC_ALEXNET]
    got = mce(errors, clean_error=clean)
    assert got["mce"] == pytest.approx(100 * np.mean(ce))
    assert got["relative_mce"] == pytest.approx(100 * np.mean(rel))
    assert got["ce"]["fog"] == pytest.approx(100 * sum(errors["fog"].values()) / (5 * 100 * 0.819324))
    assert "relative_mce" not in mce(errors)


def test_mce_keys_by_name_not_position():
    errors = _grid(BENCHMARK, seed=1)
    reordered = {c: dict(reversed(list(errors[c].items()))) for c in reversed(list(errors))}
    assert mce(reordered, 30.0)["mce"] == pytest.approx(mce(errors, 30.0)["mce"])
    swapped = dict(errors)
    swapped["brightness"], swapped["impulse_noise"] = errors["impulse_noise"], errors["brightness"]
    assert mce(swapped)["mce"] != pytest.approx(mce(errors)["mce"])


def test_mce_refuses_an_incomplete_grid_naming_the_cells():
    errors = _grid(BENCHMARK, seed=2)
    del errors["fog"][3]
    with pytest.raises(ValueError, match="fog/3"):
        mce(errors)


def test_summary_on_a_full_grid():
    acc = _grid(BENCHMARK + HOLDOUT, seed=3)
    clean = 76.0
    out = imagenet_c_summary(acc, clean_accuracy=clean)
    mean15 = np.mean([np.mean(list(acc[c].values())) for c in BENCHMARK])
    mean19 = np.mean([np.mean(list(acc[c].values())) for c in BENCHMARK + HOLDOUT])
    assert out["mean_acc_15"] == pytest.approx(mean15)
    assert out["mean_acc_19"] == pytest.approx(mean19)
    assert out["retention"] == pytest.approx(100 * mean15 / clean)
    errors = {c: {s: 100 - a for s, a in v.items()} for c, v in acc.items() if c in BENCHMARK}
    assert out["mce"] == pytest.approx(mce(errors)["mce"])
    assert out["relative_mce"] == pytest.approx(mce(errors, 100 - clean)["relative_mce"])
    assert out["per_cell"]["spatter/4"] == acc["spatter"][4]
    assert len(out["per_cell"]) == 95
    assert mean_accuracy(acc, BENCHMARK) == pytest.approx(mean15)


def test_summary_leaves_out_what_a_partial_grid_cannot_give():
    acc = _grid(BENCHMARK[:3], seed=4)
    acc["fog"] = {2: 40.0, 5: 20.0}
    out = imagenet_c_summary(acc, clean_accuracy=80.0)
    assert set(out) == {"per_cell", "per_corruption"}
    assert out["per_corruption"]["fog"] == 30.0
    assert out["per_cell"]["fog/5"] == 20.0
    full15 = imagenet_c_summary(_grid(BENCHMARK, seed=5))
    assert set(full15) == {"per_cell", "per_corruption", "mce", "mean_acc_15"}
