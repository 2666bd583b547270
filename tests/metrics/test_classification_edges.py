"""Edges of the classification metrics that examples elsewhere leave open, each against an independent
re-statement: ties keep the input order, bins at exact multiples and remainders, float32 inputs computed
in float64, the outcome dtypes, and every refusal's words."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fan_det.metrics import classification as cm


def _rms_calibration(confidence, correct, bins: list[tuple[int, int]]) -> float:
    """sqrt(sum_b |b|/N (mean confidence_b - accuracy_b)^2) over the given [lo, hi) bins of the images
    sorted by confidence, ties in input order (Python's sort is stable)."""
    order = sorted(range(len(confidence)), key=lambda i: float(confidence[i]))
    conf = [float(confidence[i]) for i in order]
    corr = [float(correct[i]) for i in order]
    n = len(conf)
    gaps = [(math.fsum(conf[lo:hi]) - math.fsum(corr[lo:hi])) / (hi - lo) for lo, hi in bins]
    total = math.fsum((hi - lo) / n * gap**2 for (lo, hi), gap in zip(bins, gaps, strict=True))
    return 100 * math.sqrt(total)


def _ties(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.choice([0.2, 0.5, 0.9], size=n), rng.random(n) < 0.5


def test_bins_at_an_exact_multiple_stay_apart_and_a_remainder_joins_the_last():
    confidence, correct = np.random.default_rng(0).random(200), np.random.default_rng(1).random(200) < 0.6
    assert cm.calibration_error(confidence, correct, 100) == pytest.approx(
        _rms_calibration(confidence, correct, [(0, 100), (100, 200)]), abs=1e-12)
    conf150, corr150 = confidence[:150], correct[:150]
    assert cm.calibration_error(conf150, corr150, 100) == pytest.approx(
        _rms_calibration(conf150, corr150, [(0, 150)]), abs=1e-12)
    assert cm.calibration_error(confidence[:5], correct[:5], 1) == pytest.approx(
        _rms_calibration(confidence[:5], correct[:5], [(i, i + 1) for i in range(5)]), abs=1e-12)
    assert cm.calibration_error([0.7], [True]) == pytest.approx(30.0)  # one image is one bin


def test_ties_in_confidence_keep_the_input_order():
    confidence, correct = _ties(300, 2)
    bins = [(0, 50), (50, 100), (100, 150), (150, 200), (200, 250), (250, 300)]
    assert cm.calibration_error(confidence, correct, 50) == pytest.approx(
        _rms_calibration(confidence, correct, bins), abs=1e-12)
    order = sorted(range(300), key=lambda i: -confidence[i])  # stable: ties in input order
    hits = np.cumsum([float(correct[i]) for i in order])
    expected = 100 * math.fsum(hits[k - 1] / k for k in range(1, 301)) / 300
    assert cm.aurra(confidence, correct) == pytest.approx(expected, abs=1e-12)


def test_float32_confidences_are_averaged_in_float64():
    confidence = np.random.default_rng(4).random(2000).astype(np.float32)
    correct = np.random.default_rng(5).random(2000) < 0.3
    assert cm.calibration_error(confidence, correct, 2000) == pytest.approx(
        _rms_calibration(confidence, correct, [(0, 2000)]), rel=1e-13, abs=0)


def test_outcomes_keep_their_dtypes_and_the_ks_asked_for():
    rng = np.random.default_rng(6)
    logits, targets = rng.normal(size=(40, 10)).astype(np.float32), rng.integers(0, 10, 40)
    out = cm.masked_outcomes(logits, targets, [1, 3, 5, 7], ks=(2,))
    assert set(out) == {"top2", "confidence", "valid"} and out["confidence"].dtype == np.float32
    assert cm.topk_accuracy(logits, targets, ks=(3,)).keys() == {3}
    ranks = [(logits[i] > logits[i, t]).sum() for i, t in enumerate(targets)]
    assert cm.topk_accuracy(logits, targets, ks=(3,))[3] == pytest.approx(100 * np.mean(np.array(ranks) < 3))
    assert cm.accuracy(np.array([0, 3, 0, 1])) == 50.0  # non-zero entries are the true ones


@pytest.mark.parametrize(("call", "message"), [
    (lambda: cm.accuracy([]), "accuracy of zero images is undefined"),
    (lambda: cm.calibration_error([], []),
     "confidence and correct must be equal-length non-empty 1-D arrays"),
    (lambda: cm.calibration_error([[0.5, 0.5]], [[1, 0]]), "confidence and correct must be equal-length"),
    (lambda: cm.aurra([0.5, 0.4], [1]), "confidence and correct must be equal-length"),
    (lambda: cm.calibration_error([0.5], [1], bin_size=0), "bin_size must be positive, got 0"),
    (lambda: cm.retention(3.0, 0.0), "retention needs a positive clean accuracy, got 0.0"),
    (lambda: cm.topk_correct(np.zeros((4, 3, 2)), np.zeros(4)),
     r"expected logits \(N, C\) and targets \(N,\), got \(4, 3, 2\), \(4,\)"),
    (lambda: cm.topk_correct(np.zeros((4, 3)), np.zeros(5)), "expected logits"),
])
def test_refusals_say_what_is_wrong(call, message):
    with pytest.raises(ValueError, match=f"^{message}"):
        call()
