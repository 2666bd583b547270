"""The Wilson score interval against its closed form written independently and published values."""

import math

import numpy as np
import pytest

from fan_det.metrics.classification import wilson_interval

Z95 = 1.959963984540054  # the 97.5% standard normal quantile


def _closed_form(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """(2k + z^2 -+ z sqrt(z^2 + 4k(n-k)/n)) / (2(n + z^2)): the same interval, rearranged."""
    root = z * math.sqrt(z * z + 4 * k * (n - k) / n)
    return 100 * (2 * k + z * z - root) / (2 * (n + z * z)), 100 * (2 * k + z * z + root) / (2 * (n + z * z))


def test_random_counts_equal_the_closed_form():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(1, 100_000))
        k = int(rng.integers(0, n + 1))
        assert wilson_interval(k, n) == pytest.approx(_closed_form(k, n), abs=1e-9)


@pytest.mark.parametrize("k,n,lo,hi", [(81, 263, 25.53, 36.62), (15, 148, 6.24, 16.05), (0, 20, 0.0, 16.11),
                                       (1, 29, 0.61, 17.18)])
def test_published_values(k, n, lo, hi):
    # Newcombe (1998), Statistics in Medicine 17:857, Table I, method 3 (score, no continuity correction)
    assert wilson_interval(k, n) == pytest.approx((lo, hi), abs=0.006)


def test_other_confidence_and_bounds():
    z99 = 2.5758293035489004
    assert wilson_interval(7, 10, confidence=0.99) == pytest.approx(_closed_form(7, 10, z99), abs=1e-9)
    lo, hi = wilson_interval(10, 10)
    assert hi == 100.0 and 0 < lo < 100
    for n in (7, 20, 7500):  # none right: the lower bound is exactly 0, never a rounding error above it
        lo, hi = wilson_interval(0, n)
        assert lo == 0.0 and hi == pytest.approx(_closed_form(0, n)[1], abs=1e-9)
    narrow, wide = wilson_interval(500, 1000), wilson_interval(5, 10)
    assert narrow[1] - narrow[0] < wide[1] - wide[0]
    for bad in [(1, 0), (-1, 5), (6, 5)]:
        with pytest.raises(ValueError):
            wilson_interval(*bad)
