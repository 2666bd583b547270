"""Effective robustness against timm's published models: which reference models each shift's line goes
through, the lines themselves (``fan_det.metrics.effective_robustness`` fits them) and each of our
models' distance from them.

The reference is timm's published results (1,556 evaluations, shipped under
``eval/reference/timm_results/``). The ID accuracy is timm's pairing: ImageNet-A and -R against ImageNet
val restricted to the same 200 classes (``-a-clean`` / ``-r-clean``), Sketch and V2 against full
ImageNet val. Rows join on (model, img_size), as a name alone repeats across input sizes: 1,555 pairs
for A (one model lacks each file), 1,556 for R, Sketch and V2.
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from fan_det.metrics.effective_robustness import CLIP, Line, effective_robustness, fit_line, predict
from fan_det.report.references import eval_dir
from fan_det.runtime.hashing import sha256_bytes

V2_VARIANT = "matched-frequency"  # the ImageNetV2 test set of timm's results


@dataclass(frozen=True)
class Shift:
    """One natural distribution shift: its OOD accuracy key and the ID accuracy key it is compared with.

    The keys name both timm's results files and the user accuracies given to ``summarise``.
    """

    name: str
    id_key: str
    ood_csv: str
    id_csv: str
    title: str
    id_label: str


SHIFTS: dict[str, Shift] = {
    s.name: s
    for s in (
        Shift("imagenet-a", "imagenet-a-clean", "results-imagenet-a.csv", "results-imagenet-a-clean.csv",
              "ImageNet-A", "ImageNet val, ImageNet-A's 200 classes"),
        Shift("imagenet-r", "imagenet-r-clean", "results-imagenet-r.csv", "results-imagenet-r-clean.csv",
              "ImageNet-R", "ImageNet val, ImageNet-R's 200 classes"),
        Shift("imagenet-sketch", "imagenet", "results-sketch.csv", "results-imagenet.csv",
              "ImageNet-Sketch", "ImageNet val"),
        Shift("imagenet-v2", "imagenet", "results-imagenetv2-matched-frequency.csv", "results-imagenet.csv",
              "ImageNetV2 (matched frequency)", "ImageNet val"),
    )
}


@dataclass(frozen=True)
class ReferencePairs:
    """The reference models of one shift: (model, img_size) keys and their ID / OOD top-1 (0-100)."""

    keys: tuple[tuple[str, str], ...]
    id_acc: np.ndarray
    ood_acc: np.ndarray


def timm_results_dir():
    """timm's results CSVs in the ``eval/`` data (package data when installed, else the checkout's)."""
    return eval_dir() / "reference" / "timm_results"


@functools.cache
def _top1(file_name: str) -> dict[tuple[str, str], float]:
    """One results CSV: (model, img_size) -> top-1; the name alone repeats across input sizes."""
    text = (timm_results_dir() / file_name).read_text(encoding="utf-8")
    return {(row["model"], row["img_size"]): float(row["top1"]) for row in csv.DictReader(io.StringIO(text))}


def _shift(name: str) -> Shift:
    if name not in SHIFTS:
        raise ValueError(f"unknown shift {name!r}; expected one of {', '.join(SHIFTS)}")
    return SHIFTS[name]


@functools.cache
def reference_pairs(shift: str) -> ReferencePairs:
    """timm's models present in both the shift's OOD file and its ID file, in sorted key order."""
    s = _shift(shift)
    ood, iid = _top1(s.ood_csv), _top1(s.id_csv)
    keys = tuple(sorted(ood.keys() & iid.keys()))
    id_acc = np.array([iid[k] for k in keys])
    ood_acc = np.array([ood[k] for k in keys])
    id_acc.flags.writeable = ood_acc.flags.writeable = False
    return ReferencePairs(keys, id_acc, ood_acc)


@functools.cache
def reference_lines(transform: str = "logit") -> Mapping[str, Line]:
    """The fitted line of every shift (``Line.n_models`` = reference models paired), read-only."""
    return MappingProxyType({name: fit_line(reference_pairs(name).id_acc, reference_pairs(name).ood_acc,
                                            transform) for name in SHIFTS})


def reference_provenance(transform: str = "logit") -> dict:
    """What the lines depend on, JSON-able: files (sha256), pairing, clipping, transform, fitted lines."""
    lines = reference_lines(transform)
    files = sorted({f for s in SHIFTS.values() for f in (s.ood_csv, s.id_csv)})
    return {
        "source": "timm (pytorch-image-models) results/ folder, eval/reference/timm_results/",
        "sha256": {f: sha256_bytes((timm_results_dir() / f).read_bytes()) for f in files},
        "clip": CLIP, "transform": transform, "fit": "least squares in the transformed space",
        "shifts": {name: {"ood_file": s.ood_csv, "id_file": s.id_csv, **lines[name].to_dict()}
                   for name, s in SHIFTS.items()},
    }


def summarise(user_models: Mapping[str, Mapping[str, float]], transform: str = "logit") -> dict:
    """Effective robustness of each model on each shift its accuracies allow.

    ``user_models``: model label -> top-1 (0-100) keyed like the reference files: ``imagenet``,
    ``imagenet-a-clean``, ``imagenet-a``, ``imagenet-r-clean``, ``imagenet-r``, ``imagenet-sketch``,
    ``imagenet-v2``. A shift is reported only when both its OOD key and its ID key are given: full-val
    accuracy never stands in for the 200-class clean accuracy of A / R. ``extrapolated`` is true when the
    ID accuracy lies outside the reference models' range (the line is then an extrapolation).
    """
    lines = reference_lines(transform)
    out: dict[str, dict] = {}
    for model, acc in user_models.items():
        entry = {}
        for name, s in SHIFTS.items():
            if name not in acc or s.id_key not in acc:
                continue
            id_acc, ood_acc = float(acc[s.id_key]), float(acc[name])
            entry[name] = {
                "id_acc": id_acc, "id_key": s.id_key, "ood_acc": ood_acc,
                "predicted": predict(lines[name], id_acc),
                "effective_robustness": effective_robustness(lines[name], id_acc, ood_acc),
                "transform": transform, "n_reference_models": lines[name].n_models,
                "extrapolated": not lines[name].id_range[0] <= id_acc <= lines[name].id_range[1],
            }
        out[model] = entry
    return out


def accuracies_from_ood(datasets: Mapping[str, Mapping]) -> dict[str, float]:
    """The ``summarise`` accuracies of one ``ood.json`` (its ``datasets`` block); absent ones left out.

    ``<shift>`` is the shift's ``top1`` (200-class masked for A / R, as timm scores them); the clean
    ``<shift>-clean`` is its ``in200_top1`` (ImageNet val on the same 200 classes) where recorded.
    ImageNet-V2 counts only as the matched-frequency ``variant``, the one timm's line is fitted on.
    """
    metrics = {name: block.get("metrics", {}) for name, block in datasets.items()
               if name != "imagenet-v2" or block.get("variant") == V2_VARIANT}
    out = {}
    if "top1" in metrics.get("imagenet", {}):
        out["imagenet"] = float(metrics["imagenet"]["top1"])
    for name, s in SHIFTS.items():
        m = metrics.get(name, {})
        if "top1" in m:
            out[name] = float(m["top1"])
        if s.id_key != "imagenet" and "in200_top1" in m:
            out[s.id_key] = float(m["in200_top1"])
    return out
