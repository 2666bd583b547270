"""Classification metrics for the OOD benchmarks (definitions: ``docs/metrics.md``).

Pure functions of numbers (numpy; scipy for the Wilson interval). Per-image outcomes (``topk_correct``,
``masked_outcomes``) are separated from the aggregates (``accuracy``, ``calibration_error``, ``aurra``) so
an evaluation can keep a few bytes per image instead of the logits, gather them across processes, and
aggregate once. Aggregates are on the 0-100 scale.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "accuracy",
    "aurra",
    "calibration_error",
    "masked_outcomes",
    "retention",
    "topk_accuracy",
    "topk_correct",
    "wilson_interval",
]


def _target_rank(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Position of each target in its row sorted by descending logit; ties rank the lower class first."""
    rows = np.arange(len(targets))
    target_logit = logits[rows, targets][:, None]
    before = np.arange(logits.shape[1])[None, :] < targets[:, None]
    return (logits > target_logit).sum(axis=1) + ((logits == target_logit) & before).sum(axis=1)


def topk_correct(logits, targets, ks: Sequence[int] = (1, 5)) -> dict[int, np.ndarray]:
    """Per-image booleans: is the target among the ``k`` highest logits, for each ``k``.

    ``logits`` is (N, C) (numpy, or anything ``np.asarray`` takes), ``targets`` (N,) class indices into C.
    """
    logits, targets = np.asarray(logits), np.asarray(targets).astype(np.int64)
    if logits.ndim != 2 or targets.shape != logits.shape[:1]:
        raise ValueError(f"expected logits (N, C) and targets (N,), got {logits.shape}, {targets.shape}")
    rank = _target_rank(logits, targets)
    return {k: rank < k for k in ks}


def masked_outcomes(logits, targets, indices, ks: Sequence[int] = (1, 5)) -> dict[str, np.ndarray]:
    """Outcomes over a class subset (ImageNet-A/-R): only the logits at ``indices`` compete.

    ``targets`` are 1000-way indices; images whose target lies outside the subset get
    ``valid = False`` (their other fields are meaningless). Returns ``{"valid", "top1", "top5", ...,
    "confidence"}`` where ``confidence`` is the max softmax probability over the masked logits.
    """
    logits, targets = np.asarray(logits), np.asarray(targets).astype(np.int64)
    idx = np.asarray(indices).astype(np.int64)
    lookup = np.full(logits.shape[1], -1, dtype=np.int64)
    lookup[idx] = np.arange(len(idx))
    sub_targets = lookup[targets]
    valid = sub_targets >= 0
    sub = logits[:, idx].astype(np.float64)
    out = {f"top{k}": v for k, v in topk_correct(sub, np.clip(sub_targets, 0, None), ks).items()}
    # the largest softmax probability is 1 / sum(exp(logit - max logit))
    out["confidence"] = (1.0 / np.exp(sub - sub.max(axis=1, keepdims=True)).sum(axis=1)).astype(np.float32)
    out["valid"] = valid
    return out


def accuracy(correct) -> float:
    """Percentage of true entries (0-100) of a boolean per-image array; NaN-free, refuses empty input."""
    correct = np.asarray(correct, dtype=bool)
    if correct.size == 0:
        raise ValueError("accuracy of zero images is undefined")
    return 100.0 * float(correct.mean())


def topk_accuracy(logits, targets, ks: Sequence[int] = (1, 5)) -> dict[int, float]:
    """Top-k accuracies on the 0-100 scale, for each ``k``."""
    return {k: accuracy(v) for k, v in topk_correct(logits, targets, ks).items()}


def _paired_arrays(confidence, correct) -> tuple[np.ndarray, np.ndarray]:
    """Both as float64 1-D arrays of one non-zero length, or a ValueError."""
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    if confidence.shape != correct.shape or confidence.ndim != 1 or confidence.size == 0:
        raise ValueError("confidence and correct must be equal-length non-empty 1-D arrays")
    return confidence, correct


def calibration_error(confidence, correct, bin_size: int = 100) -> float:
    """RMS calibration error with adaptive bins (Hendrycks et al. 2021, ImageNet-A), 0-100 scale.

    Images are sorted by confidence and cut into consecutive bins of ``bin_size``; the last bin takes
    the remainder (fewer than ``bin_size`` images make one bin). The error is
    ``sqrt(sum_b |b|/N * (mean confidence_b - accuracy_b)^2)``. Every bin counts, the last included
    (the authors' script leaves the last bin out; that differs by at most one bin's weight).
    """
    confidence, correct = _paired_arrays(confidence, correct)
    if bin_size < 1:
        raise ValueError(f"bin_size must be positive, got {bin_size}")
    order = np.argsort(confidence, kind="stable")
    confidence, correct = confidence[order], correct[order]
    n = confidence.size
    edges = list(range(0, n, bin_size))
    if len(edges) > 1 and n - edges[-1] < bin_size:
        edges.pop()  # the remainder joins the last full bin
    edges.append(n)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        gap = confidence[lo:hi].mean() - correct[lo:hi].mean()
        total += (hi - lo) / n * gap**2
    return 100.0 * float(np.sqrt(total))


def aurra(confidence, correct) -> float:
    """Area under the response rate-accuracy curve (Hendrycks et al. 2021), 0-100 scale.

    Answering only the ``k`` most confident images gives an accuracy; AURRA is the mean of that accuracy
    over ``k = 1..N``. Ties in confidence keep the input order.
    """
    confidence, correct = _paired_arrays(confidence, correct)
    order = np.argsort(-confidence, kind="stable")
    curve = np.cumsum(correct[order]) / np.arange(1, confidence.size + 1)
    return 100.0 * float(curve.mean())


def retention(corrupted: float, clean: float) -> float:
    """Corrupted accuracy as a percentage of clean accuracy (both on the same scale)."""
    if clean <= 0:
        raise ValueError(f"retention needs a positive clean accuracy, got {clean}")
    return 100.0 * corrupted / clean


def wilson_interval(successes: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval (Wilson 1927) of a binomial proportion ``successes / total``, 0-100 scale.

    With ``p = successes / total`` and ``z`` the two-sided normal quantile of ``confidence`` (1.96 for
    95%): ``(p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)``, as
    ``scipy.stats.binomtest(...).proportion_ci(method="wilson")`` computes it. Unlike the normal
    approximation it stays inside [0, 100] and is not degenerate at 0 or all correct.
    """
    if total <= 0 or not 0 <= successes <= total:
        raise ValueError(f"a proportion needs 0 <= successes <= total and total > 0, got {successes}/{total}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    from scipy.stats import binomtest  # seconds to import: only where an interval is computed

    ci = binomtest(successes, total).proportion_ci(confidence_level=confidence, method="wilson")
    lower = 0.0 if successes == 0 else float(ci.low)  # exact at the ends (centre == half there)
    upper = 1.0 if successes == total else float(ci.high)
    return 100.0 * lower, 100.0 * upper
