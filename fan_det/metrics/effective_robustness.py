"""The effective-robustness line: OOD accuracy against ID accuracy on transformed axes, and the distance
of a model from it.

Across many models, OOD top-1 is nearly linear in ID top-1 once both axes are logit- (or probit-)
transformed (Taori et al. 2020, "Measuring Robustness to Natural Distribution Shifts in Image
Classification", NeurIPS; Miller et al. 2021, "Accuracy on the Line", ICML). The line is fitted by least
squares in the transformed space (``scipy.stats.linregress``); a model's effective robustness is its OOD
accuracy minus the line's prediction at its ID accuracy, in accuracy points on the 0-100 scale.
Accuracies are clipped to [``CLIP``, 100 - ``CLIP``] (0.01 points) before transforming, so 0 and 100
stay finite. Which reference models the line goes through is the report's business
(``fan_det.report.effective_robustness``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, logit, ndtr, ndtri
from scipy.stats import linregress

TRANSFORMS: tuple[str, ...] = ("logit", "probit")
CLIP = 0.01  # accuracy points kept away from 0 and 100 before the transform
_FORWARD = {"logit": logit, "probit": ndtri}
_INVERSE = {"logit": expit, "probit": ndtr}


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


def _check_transform(transform: str) -> None:
    if transform not in TRANSFORMS:
        raise ValueError(f"unknown transform {transform!r}; expected one of {', '.join(TRANSFORMS)}")


def as_accuracy(values: object, what: str) -> np.ndarray:
    """``values`` as a float array, refused unless finite and on the 0-100 scale."""
    acc = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(acc)) or np.any((acc < 0) | (acc > 100)):
        raise ValueError(f"{what}: accuracies must be finite and on the 0-100 scale")
    return acc


def to_transformed(acc: object, transform: str = "logit") -> np.ndarray:
    """Accuracy (0-100) to the transformed axis, after clipping to [CLIP, 100 - CLIP]."""
    _check_transform(transform)
    return _FORWARD[transform](np.clip(np.asarray(acc, dtype=float), CLIP, 100 - CLIP) / 100)


def from_transformed(z: object, transform: str = "logit") -> np.ndarray:
    """The inverse of ``to_transformed`` (without the clipping): accuracy on the 0-100 scale."""
    _check_transform(transform)
    return 100 * _INVERSE[transform](np.asarray(z, dtype=float))


def fit_line(id_acc: object, ood_acc: object, transform: str = "logit") -> Line:
    """Least-squares line of transformed OOD accuracy on transformed ID accuracy (both 0-100)."""
    ids = as_accuracy(id_acc, "ID")
    x = to_transformed(ids, transform)
    y = to_transformed(as_accuracy(ood_acc, "OOD"), transform)
    if x.ndim != 1 or x.shape != y.shape or len(x) < 2:
        raise ValueError("fit_line needs two 1-D sequences of the same length, at least 2 models")
    if np.ptp(x) == 0:
        raise ValueError("fit_line needs at least two different ID accuracies")
    fit = linregress(x, y)
    r2 = float(fit.rvalue) ** 2 if np.ptp(y) > 0 else float("nan")  # no variance: R2 undefined
    return Line(float(fit.slope), float(fit.intercept), transform, len(x), r2,
                (float(ids.min()), float(ids.max())))


def predict(line: Line, id_acc: object) -> np.ndarray | float:
    """The line's OOD accuracy (0-100) at the given ID accuracy (0-100)."""
    z = line.slope * to_transformed(as_accuracy(id_acc, "ID"), line.transform) + line.intercept
    out = from_transformed(z, line.transform)
    return float(out) if out.ndim == 0 else out


def effective_robustness(line: Line, id_acc: object, ood_acc: object) -> np.ndarray | float:
    """OOD accuracy minus the line's prediction, in accuracy points (0-100 scale); > 0: above the line."""
    out = as_accuracy(ood_acc, "OOD") - predict(line, id_acc)
    return float(out) if np.ndim(out) == 0 else out
