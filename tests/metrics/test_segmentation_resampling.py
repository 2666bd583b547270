"""Bootstrap intervals of segmentation figures against the draws re-stated in the test: the default seed and
level, another level, each ACDC domain's own child seed, the settings recorded, and a zero clean mIoU."""

import warnings

import numpy as np
import pytest

from fan_det.metrics import segmentation as seg
from fan_det.protocol import Protocol

ONE = Protocol("one", ("fog",), (1,), {"weather": ("fog",)}, "a one-cell grid")


def _matrices(rng, n: int, c: int = 3) -> np.ndarray:
    """``n`` random per-image confusion matrices, every class present in every image's ground truth."""
    return rng.integers(0, 6, size=(n, c, c)) + np.eye(c, dtype=np.int64)


def _miou(m: np.ndarray) -> float:
    """mIoU of one summed matrix, class by class: TP / (row + column - TP) over classes with truth."""
    ious = [m[k, k] / (m[k].sum() + m[:, k].sum() - m[k, k]) for k in range(len(m)) if m[k].sum()]
    return 100.0 * float(np.mean(ious))


def _drawn(per_image: np.ndarray, rng: np.random.Generator, resamples: int) -> np.ndarray:
    """mIoU of each resample: the drawn images' matrices added up, repeats counted."""
    n = len(per_image)
    return np.array([_miou(per_image[row].sum(axis=0)) for row in rng.integers(0, n, size=(resamples, n))])


def _interval(values: np.ndarray, level: float) -> list[float]:
    tail = 50 * (1 - level)
    return [np.percentile(values, tail), np.percentile(values, 100 - tail)]


def test_grid_defaults_are_seed_0_and_95_percent_and_another_level_is_used():
    rng = np.random.default_rng(21)
    clean, fog = _matrices(rng, 7), _matrices(rng, 7)
    per_image = {("clean", 0): clean, ("fog", 1): fog}
    out = seg.bootstrap_grid(per_image, ONE, resamples=30)
    assert out["P"] == pytest.approx(_interval(_drawn(clean, np.random.default_rng(0), 30), 0.95), abs=1e-9)
    assert (out["seed"], out["level"], out["resamples"]) == (0, 0.95, 30)
    half = seg.bootstrap_grid(per_image, ONE, resamples=30, seed=4, level=0.5)
    assert half["mPC"] == pytest.approx(_interval(_drawn(fog, np.random.default_rng(4), 30), 0.5), abs=1e-9)
    assert half["level"] == 0.5 and half["seed"] == 4
    assert seg.bootstrap_settings(200, 3, 0.9) == {"method": "percentile bootstrap over images",
                                                   "resamples": 200, "seed": 3, "level": 0.9}


def test_a_zero_clean_miou_leaves_retention_out_without_numpy_warnings():
    wrong = np.stack([np.array([[0, 2], [3, 0]])] * 4)  # every pixel wrong: mIoU 0 in every resample
    right = np.stack([np.array([[2, 0], [0, 3]])] * 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        better = seg.bootstrap_grid({("clean", 0): wrong, ("fog", 1): right}, ONE, resamples=5)  # 100 / 0
        same = seg.bootstrap_grid({("clean", 0): wrong, ("fog", 1): wrong}, ONE, resamples=5)    # 0 / 0
    assert better["P"] == [0.0, 0.0] and better["mPC"] == [100.0, 100.0] and "rPC" not in better
    assert same["mPC"] == [0.0, 0.0] and "rPC" not in same


def test_each_domain_draws_from_its_own_child_seed_in_the_order_of_the_domains():
    rng = np.random.default_rng(8)
    per_image = {"fog": _matrices(rng, 5), "rain": _matrices(rng, 6)}  # night and snow absent
    out = seg.bootstrap_domains(per_image, resamples=25, seed=3, level=0.8)
    children = np.random.SeedSequence(3).spawn(4)  # fog, night, rain, snow
    for domain, child in (("fog", children[0]), ("rain", children[2])):
        expected = _interval(_drawn(per_image[domain], np.random.default_rng(child), 25), 0.8)
        assert out["per_domain"][domain] == pytest.approx(expected, abs=1e-9)
    assert "mean" not in out and (out["resamples"], out["seed"], out["level"]) == (25, 3, 0.8)


def test_the_domain_mean_interval_is_over_the_means_of_each_resample():
    rng = np.random.default_rng(13)
    per_image = {d: _matrices(rng, 4) for d in ("fog", "night", "rain", "snow")}
    out = seg.bootstrap_domains(per_image, resamples=20, level=0.5)
    children = np.random.SeedSequence(0).spawn(4)
    means = np.mean([_drawn(per_image[d], np.random.default_rng(s), 20)
                     for d, s in zip(("fog", "night", "rain", "snow"), children, strict=True)], axis=0)
    assert out["mean"] == pytest.approx(_interval(means, 0.5), abs=1e-9) and out["mean"][0] < out["mean"][1]
    assert out["seed"] == 0 and out["level"] == 0.5 and out["resamples"] == 20
    with pytest.raises(ValueError) as error:
        seg.bootstrap_domains({"dusk": per_image["fog"]}, resamples=20)
    assert str(error.value) == "unknown domain(s) ['dusk']; domains: fog, night, rain, snow"
