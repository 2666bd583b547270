"""From per-image outcomes to the ``ood.json`` metrics blocks, and the rule for reusing an ``--out``.

Every accuracy ``<key>`` carries ``<key>_ci``: its 95% Wilson score interval ``[lo, hi]`` on the
0-100 scale (ImageNet-C: ``per_cell_ci`` beside ``per_cell``). Keys that cannot be computed are left
out, never written as null or zero. The document itself is ``fan_det.results.OODResult``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from fan_det.metrics.classification import accuracy, aurra, calibration_error, wilson_interval
from fan_det.metrics.imagenet_c import imagenet_c_summary
from fan_det.ood.evaluate import Outcomes
from fan_det.protocol import CLASS_SUBSETS, IMAGENET
from fan_det.results import OODResult
from fan_det.results.folder import results_of_same_model


def with_interval(metrics: dict, key: str, correct: np.ndarray) -> None:
    """``metrics[key]`` = accuracy (0-100) of the boolean outcomes, ``metrics[key + "_ci"]`` its interval."""
    correct = np.asarray(correct, dtype=bool)
    metrics[key] = accuracy(correct)
    metrics[f"{key}_ci"] = list(wilson_interval(int(correct.sum()), int(correct.size)))


def classification_metrics(name: str, out: Outcomes, imagenet: Outcomes | None = None) -> dict:
    """The ``metrics`` block of one plain dataset (everything but ImageNet-C)."""
    a, m = out.arrays, {}
    if name not in CLASS_SUBSETS:
        with_interval(m, "top1", a["top1"])
        with_interval(m, "top5", a["top5"])
        return m
    if not a[f"{name}/valid"].all():
        raise ValueError(f"{name}: some targets are outside the 200-class subset")
    with_interval(m, "top1", a[f"{name}/top1"])
    with_interval(m, "top5", a[f"{name}/top5"])
    with_interval(m, "top1_unmasked", a["top1"])
    if name == "imagenet-a":
        with_interval(m, "top5_unmasked", a["top5"])
        m["calibration_error"] = calibration_error(a["imagenet-a/confidence"], a["imagenet-a/top1"])
        m["aurra"] = aurra(a["imagenet-a/confidence"], a["imagenet-a/top1"])
    valid = imagenet.arrays.get(f"{name}/valid") if imagenet is not None else None
    if valid is not None and valid.any():  # clean accuracy on the subset's classes, masked to them
        with_interval(m, "in200_top1", imagenet.arrays[f"{name}/top1"][valid])
        m["gap"] = m["in200_top1"] - m["top1"]
    return m


def imagenet_c_metrics(cells: Mapping[tuple[str, int], Outcomes], imagenet: Outcomes | None = None) -> dict:
    """The ``imagenet-c`` metrics block from the outcomes of each (corruption, severity) cell."""
    grid: dict[str, dict[int, float]] = {}
    intervals: dict[str, list[float]] = {}
    for (corruption, severity), out in cells.items():
        top1 = out.arrays["top1"]
        grid.setdefault(corruption, {})[severity] = accuracy(top1)
        intervals[f"{corruption}/{severity}"] = list(wilson_interval(int(top1.sum()), int(top1.size)))
    clean = accuracy(imagenet.arrays["top1"]) if imagenet is not None else None
    summary = imagenet_c_summary(grid, clean)
    return {**summary, "per_cell_ci": {k: intervals[k] for k in summary["per_cell"]}}


def dataset_entry(path: str | Path, outcomes: list[Outcomes], classes_present: int, metrics: dict,
                  **extra: object) -> dict:
    skipped = sorted(p for o in outcomes for p, _ in o.skipped)  # under --skip-bad, by path
    return {"path": str(Path(path).resolve()), "num_images": sum(o.num_images for o in outcomes),
            "num_skipped": len(skipped), **({"skipped": skipped} if skipped else {}),
            "classes_present": int(classes_present), **extra, "metrics": metrics}


def metrics_for(name: str, outcomes: Mapping[str, Outcomes], imagenet: Outcomes | None) -> dict:
    """The metrics block of ``name`` from its outcomes by label (ImageNet-C: ``imagenet-c/fog/3``)."""
    if name == "imagenet-c":
        cells = {}
        for label, out in outcomes.items():
            _, corruption, severity = label.split("/")
            cells[(corruption, int(severity))] = out
        return imagenet_c_metrics(cells, imagenet)
    return classification_metrics(name, outcomes[name], imagenet if name != IMAGENET else None)


def identity(model: Mapping, preprocessing: Mapping, evaluation: Mapping) -> dict:
    """The new run's blocks, as ``previous_datasets`` compares them with an existing ``ood.json``."""
    return {"model": dict(model), "preprocessing": dict(preprocessing), "evaluation": dict(evaluation)}


def previous_datasets(path: Path, mine: dict, overwrite: bool) -> dict:
    """The datasets an existing ``ood.json`` of the same model holds (kept and updated by this run).

    Another model's file (or one with other weights, preprocessing or AMP) is refused unless
    ``overwrite``: the rule of every tool, ``fan_det.results.folder``.
    """
    previous = results_of_same_model(OODResult, path.parent, mine, overwrite)
    return {} if previous is None else dict(previous.datasets)
