"""ImageNet-C metrics (Hendrycks & Dietterich 2019; definitions: ``docs/metrics.md``).

Pure functions of numbers on the 0-100 scale. The AlexNet reference errors are keyed by corruption
name, never by position. mCE and the 15/19-corruption means are defined only on complete grids
(severities 1..5 for each corruption): an incomplete grid raises, or, in ``imagenet_c_summary``,
leaves the key out.
"""

from __future__ import annotations

from collections.abc import Mapping

from fan_det.metrics.classification import retention
from fan_det.protocol import BENCHMARK, HOLDOUT, SEVERITIES

__all__ = [
    "ALEXNET_CLEAN_ERROR",
    "ALEXNET_ERRORS",
    "imagenet_c_summary",
    "mce",
    "mean_accuracy",
]

# AlexNet top-1 error (0-1) per benchmark corruption, averaged over severities 1..5 (docs/metrics.md).
ALEXNET_ERRORS: dict[str, float] = {
    "gaussian_noise": 0.886428,
    "shot_noise": 0.894468,
    "impulse_noise": 0.922640,
    "defocus_blur": 0.819880,
    "glass_blur": 0.826268,
    "motion_blur": 0.785948,
    "zoom_blur": 0.798360,
    "snow": 0.866816,
    "frost": 0.826572,
    "fog": 0.819324,
    "brightness": 0.564592,
    "contrast": 0.853204,
    "elastic_transform": 0.646056,
    "pixelate": 0.717840,
    "jpeg_compression": 0.606500,
}
ALEXNET_CLEAN_ERROR = 0.4348

Grid = Mapping[str, Mapping[int, float]]


def _complete(grid: Grid, corruptions: tuple[str, ...]) -> list[str]:
    """Names of the missing ``corruption/severity`` cells."""
    return [f"{c}/{s}" for c in corruptions for s in SEVERITIES if s not in grid.get(c, {})]


def _severity_mean(cells: Mapping[int, float]) -> float:
    return sum(cells[s] for s in SEVERITIES) / len(SEVERITIES)


def mce(errors: Grid, clean_error: float | None = None) -> dict:
    """mCE and (given the clean error) relative mCE over the 15 benchmark corruptions, in percent.

    ``errors[corruption][severity]`` is top-1 error on the 0-100 scale, ``clean_error`` likewise.
    CE_c = sum_s E(c,s) / sum_s E_AlexNet(c,s); relative CE_c = sum_s (E(c,s) - E_clean) /
    sum_s (E_AlexNet(c,s) - E_AlexNet_clean). Returns ``{"mce", "ce"}`` plus ``{"relative_mce",
    "relative_ce"}`` when ``clean_error`` is given (``ce`` maps corruption -> percent).
    """
    missing = _complete(errors, BENCHMARK)
    if missing:
        raise ValueError(f"mCE needs all 15 corruptions x severities 1-5; missing {len(missing)} cells: "
                         + ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else ""))
    # errors are percent and the AlexNet table is 0-1, so E / ref is already CE in percent
    ce = {c: _severity_mean(errors[c]) / ref for c, ref in ALEXNET_ERRORS.items()}
    out: dict = {"mce": sum(ce.values()) / len(ce), "ce": ce}
    if clean_error is not None:
        rel = {c: (_severity_mean(errors[c]) - clean_error) / (ref - ALEXNET_CLEAN_ERROR)
               for c, ref in ALEXNET_ERRORS.items()}
        out["relative_mce"] = sum(rel.values()) / len(rel)
        out["relative_ce"] = rel
    return out


def mean_accuracy(accuracies: Grid, corruptions: tuple[str, ...]) -> float:
    """Mean over ``corruptions`` of the accuracy averaged over severities 1..5 (0-100)."""
    missing = _complete(accuracies, corruptions)
    if missing:
        raise ValueError(f"mean accuracy over {len(corruptions)} corruptions is missing cells: "
                         + ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else ""))
    return sum(_severity_mean(accuracies[c]) for c in corruptions) / len(corruptions)


def imagenet_c_summary(accuracies: Grid, clean_accuracy: float | None = None) -> dict:
    """The ``imagenet-c`` metrics block of ``ood.json`` from top-1 accuracies per cell (0-100).

    Always ``per_cell`` (keys ``"<corruption>/<severity>"``) and ``per_corruption`` (mean over the
    severities present). ``mce`` / ``mean_acc_15`` / ``retention`` need the 15 x 5 grid,
    ``mean_acc_19`` the 19 x 5 grid, ``relative_mce`` / ``retention`` the clean accuracy; keys that
    cannot be computed are absent.
    """
    out: dict = {
        "per_cell": {f"{c}/{s}": float(a) for c in sorted(accuracies)
                     for s, a in sorted(accuracies[c].items())},
        "per_corruption": {c: sum(v.values()) / len(v) for c, v in sorted(accuracies.items()) if v},
    }
    if not _complete(accuracies, BENCHMARK):
        errors = {c: {s: 100.0 - a for s, a in accuracies[c].items()} for c in BENCHMARK}
        res = mce(errors, None if clean_accuracy is None else 100.0 - clean_accuracy)
        out["mce"] = res["mce"]
        if "relative_mce" in res:
            out["relative_mce"] = res["relative_mce"]
        out["mean_acc_15"] = mean_accuracy(accuracies, BENCHMARK)
        if clean_accuracy is not None and clean_accuracy > 0:
            out["retention"] = retention(out["mean_acc_15"], clean_accuracy)
    all19 = BENCHMARK + HOLDOUT
    if not _complete(accuracies, all19):
        out["mean_acc_19"] = mean_accuracy(accuracies, all19)
    return out
