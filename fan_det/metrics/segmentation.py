"""Semantic segmentation under corruption and natural shift: confusion matrices, mIoU, retention, a
protocol's means and per-image bootstrap intervals.

mIoU follows detectron2's ``SemSegEvaluator``: one confusion matrix accumulated over every labelled pixel of
the set (the ignore label left out), IoU_c = TP / (TP + FP + FN) per class, and the mean over the classes
that have ground-truth pixels. A class without ground truth is left out of the mean, even when it was
predicted (detectron2's rule; MMSegmentation's would count it as 0). A set's matrix is the sum of its
images' matrices, so the per-image matrices are all a bootstrap needs: a resample is a weighted sum.
Definitions and the protocols: ``docs/metrics.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from statistics import fmean

import numpy as np

from fan_det.metrics.corruption import percentile_interval
from fan_det.protocol import ACDC_CONDITIONS, CLEAN_CELL, IGNORE_LABEL, Protocol

Cell = tuple[str, int]
CLEAN: Cell = tuple(CLEAN_CELL)
LEVEL = 0.95


class IncompleteProtocolError(ValueError):
    """A grid lacks cells that its protocol's mean needs; ``missing`` lists them."""

    def __init__(self, protocol: str, missing: Sequence[Cell]):
        self.missing = list(missing)
        names = ", ".join(f"{c}/{s}" for c, s in self.missing)
        super().__init__(f"the grid lacks {len(self.missing)} cell(s) of protocol {protocol!r} ({names}); "
                         "evaluate them or allow a partial summary")


def confusion_matrix(gt: np.ndarray, pred: np.ndarray, num_classes: int,
                     ignore_label: int = IGNORE_LABEL) -> np.ndarray:
    """``(num_classes, num_classes)`` int64 pixel counts, rows ground truth, columns prediction, over the
    pixels whose ground truth is not ``ignore_label``. A ground-truth or predicted value that is no class id
    raises ``ValueError`` naming it (a silent wrap-around would move pixels between cells)."""
    gt, pred = np.asarray(gt), np.asarray(pred)
    if gt.shape != pred.shape:
        raise ValueError(f"ground truth {gt.shape} and prediction {pred.shape} differ in shape")
    labelled = gt != ignore_label
    truth, guess = gt[labelled].astype(np.int64), pred[labelled].astype(np.int64)
    for what, values in (("ground-truth label", truth), ("predicted class", guess)):
        bad = values[(values < 0) | (values >= num_classes)]
        if bad.size:
            raise ValueError(f"{what} value {int(bad[0])} is neither a class id (0..{num_classes - 1}) "
                             f"nor the ignore value {ignore_label}")
    counts = np.bincount(truth * num_classes + guess, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def class_iou(matrix: np.ndarray) -> np.ndarray:
    """IoU per class, 0-100, of one ``(C, C)`` matrix or a stack ``(..., C, C)``; NaN for a class with no
    ground-truth pixel (left out of the mean)."""
    matrix = np.asarray(matrix, dtype=np.float64)
    tp = np.diagonal(matrix, axis1=-2, axis2=-1)
    truth, predicted = matrix.sum(axis=-1), matrix.sum(axis=-2)
    union = truth + predicted - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(truth > 0, 100.0 * tp / union, np.nan)


def mean_iou(matrix: np.ndarray) -> np.ndarray | float:
    """mIoU, 0-100, over the classes with ground truth (NaN when none has any); stacks give an array."""
    iou = class_iou(matrix)
    scored = np.sum(~np.isnan(iou), axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(scored > 0, np.nansum(iou, axis=-1) / scored, np.nan)
    return float(value) if value.ndim == 0 else value


def cell_stats(matrix: np.ndarray, class_names: Sequence[str]) -> dict:
    """A cell's record: ``mIoU``, ``IoU`` per class name (classes without ground truth absent) and the
    names of those ``excluded`` classes."""
    iou = class_iou(matrix)
    if len(class_names) != iou.shape[-1]:
        raise ValueError(f"{len(class_names)} class names for a {iou.shape[-1]}-class matrix")
    return {"mIoU": mean_iou(matrix),
            "IoU": {name: float(v) for name, v in zip(class_names, iou, strict=True) if not np.isnan(v)},
            "excluded": [name for name, v in zip(class_names, iou, strict=True) if np.isnan(v)]}


def retention(corrupted: float, clean: float) -> float:
    """Mean mIoU under corruption as a percentage of clean mIoU."""
    if not clean > 0:
        raise ValueError(f"retention needs a positive clean mIoU, got {clean}")
    return 100.0 * corrupted / clean


def protocol_summary(cells: Mapping[Cell, float], protocol: Protocol, allow_partial: bool = False) -> dict:
    """A protocol's figures from per-cell values (mIoU, 0-100), ``("clean", 0)`` the clean cell.

    The names are those of every corruption grid (``fan_det.metrics.corruption``): ``P`` the clean mIoU,
    ``mPC`` the mean over the protocol's corruptions of each corruption's mean over its severities,
    ``rPC`` = mPC / P in percent (the retention); ``per_corruption``, ``per_family`` (mean of its
    corruptions' means) and ``per_severity`` (mean over the corruptions at that severity). Cells outside
    the protocol do not enter. A missing protocol cell raises ``IncompleteProtocolError`` unless
    ``allow_partial``: then ``partial`` is true, ``missing`` names the cells and each mean is over the
    cells present. A figure that cannot be computed is absent, never zero.
    """
    missing = [cell for cell in [CLEAN, *protocol.cells] if cell not in cells]
    if missing and not allow_partial:
        raise IncompleteProtocolError(protocol.name, missing)
    per_corruption = {c: fmean(cells[(c, s)] for s in protocol.severities if (c, s) in cells)
                      for c in protocol.corruptions if any((c, s) in cells for s in protocol.severities)}
    out: dict = {"protocol": protocol.name, "partial": bool(missing), "missing": [list(c) for c in missing]}
    if CLEAN in cells:
        out["P"] = cells[CLEAN]
    if per_corruption:
        out["mPC"] = fmean(per_corruption.values())
        if out.get("P", 0) > 0:
            out["rPC"] = retention(out["mPC"], out["P"])
    out["per_corruption"] = per_corruption
    out["per_family"] = {f: fmean(per_corruption[c] for c in names if c in per_corruption)
                         for f, names in protocol.families.items() if any(c in per_corruption for c in names)}
    out["per_severity"] = {str(s): fmean(cells[(c, s)] for c in protocol.corruptions if (c, s) in cells)
                           for s in protocol.severities if any((c, s) in cells for c in protocol.corruptions)}
    return out


def resample_weights(num_images: int, resamples: int, seed: int | np.random.SeedSequence) -> np.ndarray:
    """``(resamples, num_images)`` int64: how often each image is drawn in each resample (with
    replacement, ``num_images`` draws each), from ``numpy.random.default_rng(seed)``."""
    if resamples < 2:
        raise ValueError(f"resamples must be at least 2, got {resamples}")
    if num_images < 1:
        raise ValueError("no image to resample")
    positions = np.random.default_rng(seed).integers(0, num_images, size=(resamples, num_images))
    offsets = np.arange(resamples)[:, None] * num_images
    counts = np.bincount((positions + offsets).ravel(), minlength=resamples * num_images)
    return counts.reshape(resamples, num_images)


def resampled_miou(per_image: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """mIoU of each resample: the weighted sum of the ``(N, C, C)`` per-image matrices, one row of
    ``weights`` each (exact integer sums)."""
    num_images, c, _ = per_image.shape
    summed = weights @ np.asarray(per_image, dtype=np.int64).reshape(num_images, c * c)
    return mean_iou(summed.reshape(-1, c, c))


def bootstrap_grid(per_image: Mapping[Cell, np.ndarray], protocol: Protocol, resamples: int, seed: int = 0,
                   level: float = LEVEL) -> dict:
    """Percentile intervals of clean mIoU (``P``), the protocol's mean mIoU (``mPC``), retention (``rPC``).

    ``per_image`` maps a cell to its ``(N, C, C)`` per-image confusion matrices, the same N images in the
    same order in every cell. One draw of images serves every cell of a resample, so clean and corrupted
    figures move together as on another draw of the test set. ``P`` needs the clean cell, ``mPC`` the
    protocol's full grid, ``rPC`` both; a figure without its cells is absent.
    """
    counts = {m.shape[0] for m in per_image.values()}
    if len(counts) != 1:
        raise ValueError(f"cells hold different image counts {sorted(counts)}; a shared resample needs one")
    weights = resample_weights(counts.pop(), resamples, seed)
    draws: dict[str, np.ndarray] = {}
    if CLEAN in per_image:
        draws["P"] = resampled_miou(per_image[CLEAN], weights)
    if all(cell in per_image for cell in protocol.cells):
        per_corruption = [np.mean([resampled_miou(per_image[(c, s)], weights) for s in protocol.severities],
                                  axis=0) for c in protocol.corruptions]
        draws["mPC"] = np.mean(per_corruption, axis=0)
        if "P" in draws:
            with np.errstate(invalid="ignore", divide="ignore"):
                draws["rPC"] = 100.0 * draws["mPC"] / draws["P"]
    out = {name: i for name, values in draws.items() if (i := percentile_interval(values, level))}
    return {**out, **bootstrap_settings(resamples, seed, level)}


def bootstrap_domains(per_image: Mapping[str, np.ndarray], resamples: int, seed: int = 0,
                      level: float = LEVEL, domains: Sequence[str] = ACDC_CONDITIONS) -> dict:
    """Intervals of each domain's mIoU and of their mean (natural shift, e.g. ACDC's conditions).

    Domains hold different images: each is resampled on its own, from its own child of
    ``SeedSequence(seed)`` (children in the order of ``domains``), and the mean's interval comes from the
    means of the per-domain resamples; it is left out unless every one of ``domains`` is given.
    """
    unknown = sorted(set(per_image) - set(domains))
    if unknown:
        raise ValueError(f"unknown domain(s) {unknown}; domains: {', '.join(domains)}")
    seeds = np.random.SeedSequence(seed).spawn(len(domains))
    draws = {d: resampled_miou(per_image[d], resample_weights(per_image[d].shape[0], resamples, s))
             for d, s in zip(domains, seeds, strict=True) if d in per_image}
    out: dict = {"per_domain": {d: i for d, v in draws.items() if (i := percentile_interval(v, level))}}
    if set(draws) == set(domains):
        interval = percentile_interval(np.mean(list(draws.values()), axis=0), level)
        if interval:
            out["mean"] = interval
    return {**out, **bootstrap_settings(resamples, seed, level)}


def bootstrap_settings(resamples: int, seed: int, level: float = LEVEL) -> dict:
    """How intervals were made, as the results record it."""
    return {"method": "percentile bootstrap over images", "resamples": resamples, "seed": seed,
            "level": level}
