"""Effective robustness: a model's OOD accuracy above what its ID accuracy predicts.

Across many models, OOD top-1 is nearly linear in ID top-1 once both axes are logit- (or probit-)
transformed (Taori et al. 2020, "Measuring Robustness to Natural Distribution Shifts in Image
Classification", NeurIPS; Miller et al. 2021, "Accuracy on the Line", ICML). The line is fitted by least
squares in the transformed space through timm's published results (1,556 evaluations, shipped under
``eval/reference/timm_results/``); a model's effective robustness is its OOD accuracy minus the line's
prediction at its ID accuracy, in accuracy points on the 0-100 scale.

The ID accuracy is timm's pairing: ImageNet-A and -R against ImageNet val restricted to the same 200
classes (``-a-clean`` / ``-r-clean``), Sketch and V2 against full ImageNet val. Rows join on (model,
img_size), as a name alone repeats across input sizes: 1,555 pairs for A (one model lacks each file),
1,556 for R, Sketch and V2. Accuracies are clipped to [``CLIP``, 100 - ``CLIP``] (0.01 points) before
transforming, so 0 and 100 stay finite.
"""

from __future__ import annotations

import csv
import functools
import importlib.util
import io
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from fan_det.paths import REPO_ROOT
from fan_det.runtime.hashing import sha256_bytes

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

TRANSFORMS: tuple[str, ...] = ("logit", "probit")
V2_VARIANT = "matched-frequency"  # the ImageNetV2 test set of timm's results
CLIP = 0.01  # accuracy points kept away from 0 and 100 before the transform


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
class Line:
    """``T(ood) = slope * T(id) + intercept`` with ``T`` the transform of accuracy / 100."""

    slope: float
    intercept: float
    transform: str
    n_models: int
    r2: float  # coefficient of determination in the transformed space
    id_range: tuple[float, float]  # ID accuracies fitted; outside it the line is extrapolated

    def to_dict(self) -> dict:
        return {"slope": self.slope, "intercept": self.intercept, "transform": self.transform,
                "n_models": self.n_models, "r2": self.r2, "id_range": list(self.id_range)}


@dataclass(frozen=True)
class ReferencePairs:
    """The reference models of one shift: (model, img_size) keys and their ID / OOD top-1 (0-100)."""

    keys: tuple[tuple[str, str], ...]
    id_acc: np.ndarray
    ood_acc: np.ndarray


def reference_dir() -> Path | Traversable:
    """timm's results CSVs: package data of ``fan_det.eval`` when installed so, else the repo's ``eval/``."""
    if importlib.util.find_spec("fan_det.eval") is not None:
        return resources.files("fan_det.eval") / "reference" / "timm_results"
    return REPO_ROOT / "eval" / "reference" / "timm_results"


def _check_transform(transform: str) -> None:
    if transform not in TRANSFORMS:
        raise ValueError(f"unknown transform {transform!r}; expected one of {', '.join(TRANSFORMS)}")


def _as_accuracy(values: object, what: str) -> np.ndarray:
    acc = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(acc)) or np.any((acc < 0) | (acc > 100)):
        raise ValueError(f"{what}: accuracies must be finite and on the 0-100 scale")
    return acc


def _ppf(p: np.ndarray) -> np.ndarray:
    try:
        from scipy.special import ndtri
    except ImportError:  # scipy is optional: the standard library's normal quantile, element by element
        return np.vectorize(statistics.NormalDist().inv_cdf, otypes=[float])(p)
    return ndtri(p)


def _cdf(z: np.ndarray) -> np.ndarray:
    try:
        from scipy.special import ndtr
    except ImportError:
        return np.vectorize(statistics.NormalDist().cdf, otypes=[float])(z)
    return ndtr(z)


def to_transformed(acc: object, transform: str = "logit") -> np.ndarray:
    """Accuracy (0-100) to the transformed axis, after clipping to [CLIP, 100 - CLIP]."""
    _check_transform(transform)
    p = np.clip(np.asarray(acc, dtype=float), CLIP, 100 - CLIP) / 100
    return np.log(p / (1 - p)) if transform == "logit" else _ppf(p)


def from_transformed(z: object, transform: str = "logit") -> np.ndarray:
    """The inverse of ``to_transformed`` (without the clipping): accuracy on the 0-100 scale."""
    _check_transform(transform)
    z = np.asarray(z, dtype=float)
    return 100 / (1 + np.exp(-z)) if transform == "logit" else 100 * _cdf(z)


def fit_line(id_acc: object, ood_acc: object, transform: str = "logit") -> Line:
    """Least-squares line of transformed OOD accuracy on transformed ID accuracy (both 0-100)."""
    ids = _as_accuracy(id_acc, "ID")
    x = to_transformed(ids, transform)
    y = to_transformed(_as_accuracy(ood_acc, "OOD"), transform)
    if x.ndim != 1 or x.shape != y.shape or len(x) < 2:
        raise ValueError("fit_line needs two 1-D sequences of the same length, at least 2 models")
    (slope, intercept), *_ = np.linalg.lstsq(np.stack([x, np.ones_like(x)], axis=1), y, rcond=None)
    residual = y - (slope * x + intercept)
    total = float(np.sum((y - y.mean()) ** 2))
    r2 = 1 - float(np.sum(residual**2)) / total if total > 0 else float("nan")
    return Line(float(slope), float(intercept), transform, len(x), r2, (float(ids.min()), float(ids.max())))


def predict(line: Line, id_acc: object) -> np.ndarray | float:
    """The line's OOD accuracy (0-100) at the given ID accuracy (0-100)."""
    z = line.slope * to_transformed(_as_accuracy(id_acc, "ID"), line.transform) + line.intercept
    out = from_transformed(z, line.transform)
    return float(out) if out.ndim == 0 else out


def effective_robustness(line: Line, id_acc: object, ood_acc: object) -> np.ndarray | float:
    """OOD accuracy minus the line's prediction, in accuracy points (0-100 scale); > 0: above the line."""
    out = _as_accuracy(ood_acc, "OOD") - predict(line, id_acc)
    return float(out) if np.ndim(out) == 0 else out


@functools.cache
def _top1(file_name: str) -> dict[tuple[str, str], float]:
    """One results CSV: (model, img_size) -> top-1; the name alone repeats across input sizes."""
    text = (reference_dir() / file_name).read_text(encoding="utf-8")
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
    _check_transform(transform)
    return MappingProxyType({name: fit_line(reference_pairs(name).id_acc, reference_pairs(name).ood_acc,
                                            transform) for name in SHIFTS})


def reference_provenance(transform: str = "logit") -> dict:
    """What the lines depend on, JSON-able: files (sha256), pairing, clipping, transform, fitted lines."""
    lines = reference_lines(transform)
    files = sorted({f for s in SHIFTS.values() for f in (s.ood_csv, s.id_csv)})
    return {
        "source": "timm (pytorch-image-models) results/ folder, eval/reference/timm_results/",
        "sha256": {f: sha256_bytes((reference_dir() / f).read_bytes()) for f in files},
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


_TICKS = (0.1, 0.5, 1, 2, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 98, 99, 99.5, 99.9)
# a model beyond this range (a randomly initialised one at 0%) is drawn at its edge, labelled with its
# accuracies, instead of stretching the transformed axes until the reference cloud is a dot
SHOWN_RANGE = (1.0, 99.0)


def _scale_axis(ax, which: str, lo: float, hi: float, transform: str) -> tuple[float, float]:
    """Transformed scale on ``which`` ("x"/"y") over transformed [lo, hi] (5% padding), accuracy ticks."""
    pad = 0.05 * (hi - lo)
    limits = tuple(float(from_transformed(v, transform)) for v in (lo - pad, hi + pad))
    getattr(ax, f"set_{which}scale")("function", functions=(lambda a: to_transformed(a, transform),
                                                            lambda z: from_transformed(z, transform)))
    axis = getattr(ax, f"{which}axis")
    axis.set_major_locator(FixedLocator([t for t in _TICKS if limits[0] <= t <= limits[1]]))
    axis.set_minor_locator(NullLocator())
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    return limits


def figure(shift: str, user_points: Mapping[str, tuple[float, float]], transform: str = "logit") -> Figure:
    """The reference cloud (grey, gid ``reference-cloud``), its fitted line and the user's models.

    ``user_points``: label -> (ID top-1, OOD top-1), 0-100, the ID accuracy as the shift pairs it.
    Labels are drawn as plain text (``parse_math=False``: a ``$`` never starts mathtext). A model outside
    ``SHOWN_RANGE`` on either axis is drawn at the range's edge as a triangle, its label giving its values.
    """
    s, pairs, line = _shift(shift), reference_pairs(shift), reference_lines(transform)[shift]
    labels = list(user_points)
    user = _as_accuracy([user_points[k] for k in labels], "user points").reshape(-1, 2)
    shown = np.clip(user, *SHOWN_RANGE)
    off_scale = np.any(shown != user, axis=1)
    xs = to_transformed(np.concatenate([pairs.id_acc, shown[:, 0]]), transform)
    ys = to_transformed(np.concatenate([pairs.ood_acc, shown[:, 1]]), transform)

    fig = Figure(figsize=(6.0, 4.8))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    xlim = _scale_axis(ax, "x", xs.min(), xs.max(), transform)
    ylim = _scale_axis(ax, "y", ys.min(), ys.max(), transform)
    ax.scatter(pairs.id_acc, pairs.ood_acc, s=5, c="0.7", linewidths=0, gid="reference-cloud",
               label=f"timm models (n = {line.n_models})")
    grid = from_transformed(np.linspace(*to_transformed(xlim, transform), 100), transform)
    ax.plot(grid, predict(line, grid), color="C0", lw=1.5,
            label=f"fit: {transform}(OOD) = {line.slope:.2f} {transform}(ID) "
                  f"{'+' if line.intercept >= 0 else '-'} {abs(line.intercept):.2f}, R2 = {line.r2:.2f}")
    ax.plot(grid, grid, color="0.4", lw=0.8, ls="--", label="y = x")
    ax.scatter(shown[~off_scale, 0], shown[~off_scale, 1], s=28, c="C3", edgecolors="k", linewidths=0.5,
               zorder=3, gid="user-models")
    ax.scatter(shown[off_scale, 0], shown[off_scale, 1], s=36, marker="v", c="C3", edgecolors="k",
               linewidths=0.5, zorder=3, gid="user-models-off-scale")
    for label, (x, y), (id_acc, ood_acc), off in zip(labels, shown, user, off_scale, strict=True):
        text = f"{label} (off scale: {id_acc:.1f}, {ood_acc:.1f})" if off else label
        ax.annotate(text, (x, y), xytext=(4, 4), textcoords="offset points", fontsize=8, parse_math=False)
    ax.set_xlim(xlim)
    ax.set_ylim(ylim)
    ax.set_xlabel(f"ID top-1 (%), {s.id_label} [{transform} scale]")
    ax.set_ylabel(f"OOD top-1 (%), {s.title} [{transform} scale]")
    ax.set_title(f"Effective robustness on {s.title}")
    ax.legend(loc="upper left", fontsize=7, frameon=False)
    ax.grid(True, lw=0.3, alpha=0.5)
    fig.tight_layout()
    return fig


def plot(shift: str, user_points: Mapping[str, tuple[float, float]], path: str | Path,
         transform: str = "logit") -> Figure:
    """Write ``figure(...)`` as a PNG to ``path``; returns the figure drawn."""
    fig = figure(shift, user_points, transform)
    fig.savefig(path, format="png", dpi=110)
    return fig
