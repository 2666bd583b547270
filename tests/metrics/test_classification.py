"""Classification metrics against independent, loop-based computations on random inputs."""

import math

import numpy as np
import pytest
import torch

from fan_det.metrics.classification import (
    accuracy,
    aurra,
    calibration_error,
    masked_outcomes,
    retention,
    topk_accuracy,
    topk_correct,
)


def _ranked(row):
    return sorted(range(len(row)), key=lambda j: -row[j])


def test_topk_correct_matches_a_loop():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(64, 30)).astype(np.float32)
    targets = rng.integers(0, 30, size=64)
    got = topk_correct(torch.from_numpy(logits), torch.from_numpy(targets), (1, 3, 5))
    for k in (1, 3, 5):
        expected = [int(t) in _ranked(list(row))[:k] for row, t in zip(logits, targets, strict=True)]
        assert got[k].tolist() == expected
    acc = topk_accuracy(logits, targets, (1, 5))
    top1 = [_ranked(list(r))[0] == t for r, t in zip(logits, targets, strict=True)]
    assert acc[1] == pytest.approx(100 * np.mean(top1))
    assert 0 < acc[1] < acc[5] < 100


def test_masked_outcomes_compete_only_within_the_subset():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(40, 100)).astype(np.float32)
    indices = np.sort(rng.choice(100, size=20, replace=False))
    targets = np.where(rng.random(40) < 0.8, rng.choice(indices, size=40), rng.integers(0, 100, size=40))
    logits[np.arange(40), targets] += rng.uniform(0, 3, size=40)  # some right, some wrong
    got = masked_outcomes(torch.from_numpy(logits), torch.from_numpy(targets), indices)
    for i, (row, t) in enumerate(zip(logits, targets, strict=True)):
        assert got["valid"][i] == (t in indices)
        sub = [float(row[j]) for j in indices]
        p = np.exp(np.array(sub) - max(sub))
        assert got["confidence"][i] == pytest.approx(p.max() / p.sum(), rel=1e-5)
        if t in indices:
            ranked = [int(indices[j]) for j in _ranked(sub)]
            assert got["top1"][i] == (ranked[0] == t)
            assert got["top5"][i] == (t in ranked[:5])
    valid_top1 = got["top1"][got["valid"]]
    assert got["valid"].sum() < 40 and valid_top1.any() and not valid_top1.all()


def _calib_reference(conf, correct, beta=100):
    pairs = sorted(zip(conf, correct, strict=True), key=lambda p: p[0])
    n = len(pairs)
    nbins = max(1, n // beta)
    bins = [pairs[i * beta:(i + 1) * beta] for i in range(nbins - 1)] + [pairs[(nbins - 1) * beta:]]
    gaps = [sum(c for c, _ in b) / len(b) - sum(k for _, k in b) / len(b) for b in bins]
    total = sum(len(b) / n * g**2 for b, g in zip(bins, gaps, strict=True))
    return 100 * math.sqrt(total)


@pytest.mark.parametrize("n", [37, 100, 250, 350])
def test_calibration_error_adaptive_bins_of_100(n):
    rng = np.random.default_rng(n)
    conf = rng.uniform(0.05, 1.0, size=n)
    correct = rng.random(n) < conf * 0.7
    expected = _calib_reference(conf.tolist(), correct.tolist())
    assert calibration_error(conf, correct) == pytest.approx(expected)


def test_calibration_error_of_single_bin_is_confidence_accuracy_gap():
    rng = np.random.default_rng(3)
    conf = rng.uniform(0.2, 0.9, size=50)
    correct = rng.random(50) < 0.3
    assert calibration_error(conf, correct) == pytest.approx(100 * abs(conf.mean() - correct.mean()))


def test_aurra_is_mean_accuracy_over_response_rates():
    rng = np.random.default_rng(4)
    conf = rng.random(120)
    correct = rng.random(120) < conf
    order = sorted(range(120), key=lambda i: -conf[i])
    curve = [sum(correct[j] for j in order[:k]) / k for k in range(1, 121)]
    assert aurra(conf, correct) == pytest.approx(100 * sum(curve) / len(curve))
    # confident-and-right beats confident-and-wrong
    assert aurra(conf, conf > 0.5) > aurra(conf, conf < 0.5)


def test_accuracy_retention_and_input_checks():
    assert accuracy([True, False, True, True]) == 75.0
    assert retention(30.0, 60.0) == 50.0
    with pytest.raises(ValueError):
        accuracy([])
    with pytest.raises(ValueError):
        calibration_error([0.5, 0.6], [True])
    with pytest.raises(ValueError):
        retention(10.0, 0.0)
