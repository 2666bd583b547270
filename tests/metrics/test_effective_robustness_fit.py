"""The effective-robustness fit on scipy (linregress, logit/expit, ndtri/ndtr) gives the numbers of the
numpy implementation it replaced, restated here: least squares by ``np.linalg.lstsq`` on
``log(p / (1 - p))`` or the standard library's normal quantile, R2 as 1 - SSres / SStot."""

from __future__ import annotations

import statistics

import numpy as np
import pytest

from fan_det.metrics.effective_robustness import (
    effective_robustness,
    fit_line,
    from_transformed,
    predict,
    to_transformed,
)

NORMAL = statistics.NormalDist()


def old_forward(acc: np.ndarray, transform: str) -> np.ndarray:
    p = np.clip(acc, 0.01, 99.99) / 100
    return np.log(p / (1 - p)) if transform == "logit" else np.array([NORMAL.inv_cdf(v) for v in p])


def old_inverse(z: np.ndarray, transform: str) -> np.ndarray:
    return 100 / (1 + np.exp(-z)) if transform == "logit" else 100 * np.array([NORMAL.cdf(v) for v in z])


def old_fit(ids: np.ndarray, oods: np.ndarray, transform: str) -> tuple[float, float, float]:
    x, y = old_forward(ids, transform), old_forward(oods, transform)
    (slope, intercept), *_ = np.linalg.lstsq(np.stack([x, np.ones_like(x)], axis=1), y, rcond=None)
    residual = y - (slope * x + intercept)
    return slope, intercept, 1 - float(np.sum(residual**2)) / float(np.sum((y - y.mean()) ** 2))


@pytest.mark.parametrize("transform", ["logit", "probit"])
def test_random_fits_equal_the_numpy_implementation(transform):
    rng = np.random.default_rng(7)
    for _ in range(50):
        n = int(rng.integers(2, 400))
        ids = rng.uniform(0, 100, n)
        oods = np.clip(ids * rng.uniform(0.2, 0.9) + rng.normal(0, 8, n), 0, 100)
        line = fit_line(ids, oods, transform)
        slope, intercept, r2 = old_fit(ids, oods, transform)
        assert (line.slope, line.intercept) == pytest.approx((slope, intercept), rel=1e-9, abs=1e-12)
        assert line.r2 == pytest.approx(r2, rel=1e-9, abs=1e-12)
        assert line.n_models == n and line.id_range == (ids.min(), ids.max())
        at = rng.uniform(0, 100, 20)
        expected = old_inverse(slope * old_forward(at, transform) + intercept, transform)
        np.testing.assert_allclose(predict(line, at), expected, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(effective_robustness(line, at, oods[:1]), oods[0] - expected,
                                   rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("transform", ["logit", "probit"])
def test_transforms_equal_the_numpy_ones_on_random_accuracies(transform):
    acc = np.random.default_rng(3).uniform(0, 100, 500)
    np.testing.assert_allclose(to_transformed(acc, transform), old_forward(acc, transform), rtol=1e-12,
                               atol=1e-12)
    z = np.random.default_rng(4).normal(0, 3, 500)
    np.testing.assert_allclose(from_transformed(z, transform), old_inverse(z, transform), rtol=1e-12,
                               atol=1e-12)


def test_one_id_accuracy_is_refused():
    with pytest.raises(ValueError, match="two different ID accuracies"):
        fit_line([70.0, 70.0, 70.0], [20.0, 30.0, 40.0])
