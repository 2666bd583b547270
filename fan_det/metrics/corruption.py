"""Any task under corruption: P, mPC and rPC over a grid of (corruption, severity) cells.

Implements Michaelis et al. 2019, "Benchmarking Robustness in Object Detection: Autonomous Driving when
Winter is Coming" (arXiv:1907.07484), section 3: P is the clean performance, mPC the mean over the 15
benchmark corruptions of the mean over severities 1-5, rPC = mPC / P (here in percent). Nothing here is
specific to detection: the same triple is given for every stat the cells carry (box AP, AP50, ...,
``segm/AP`` for COCO-C; mIoU for a segmentation grid). The four holdout corruptions are reported apart
and never enter mPC. Definitions: ``docs/metrics.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from statistics import fmean

import numpy as np

from fan_det.protocol import BENCHMARK, CLEAN_CELL, FAMILIES, HOLDOUT, SEVERITIES, Cell


class IncompleteGridError(ValueError):
    """A corruption grid lacks cells that mPC needs; ``missing`` lists them."""

    def __init__(self, missing: Sequence[Cell]):
        self.missing = list(missing)
        names = ", ".join(f"{c}/{s}" for c, s in self.missing)
        super().__init__(
            f"the corruption grid is incomplete: {len(self.missing)} cell(s) missing ({names}); evaluate "
            "them or pass allow_partial=True to report a partial summary"
        )


def _expected_cells(cells: Mapping[Cell, object]) -> list[Cell]:
    """The clean cell, the 15 x 5 benchmark grid and, once any holdout cell is given, the 4 x 5 holdout."""
    expected = [CLEAN_CELL] + [Cell(c, s) for c in BENCHMARK for s in SEVERITIES]
    holdout = HOLDOUT
    if any(c in holdout for c, _ in cells):
        expected += [Cell(c, s) for c in holdout for s in SEVERITIES]
    return expected


def _check_cells(cells: Mapping[Cell, Mapping[str, float]]) -> list[str]:
    """Refuse unknown cells, mismatched stat names and non-finite values; return the stat names."""
    known = set(BENCHMARK) | set(HOLDOUT)
    for corruption, severity in cells:
        if (corruption, severity) != CLEAN_CELL and (corruption not in known or severity not in SEVERITIES):
            raise ValueError(
                f"unknown cell {corruption}/{severity}: expected ('clean', 0) or a benchmark or holdout "
                "corruption at severity 1-5"
            )
    if not cells:
        raise ValueError("no cells given")
    names = list(next(iter(cells.values())))
    for cell, stats in cells.items():
        if set(stats) != set(names):
            raise ValueError(f"cell {cell[0]}/{cell[1]} has stats {sorted(stats)}, others {sorted(names)}")
        bad = [k for k, v in stats.items() if not math.isfinite(v)]
        if bad:
            raise ValueError(f"cell {cell[0]}/{cell[1]} has non-finite stats {bad}")
    return names


def _corrupted_figures(
    cells: Mapping[Cell, Mapping[str, float]], corruptions: Sequence[str], stat: str, clean: float | None
) -> dict:
    """mPC, rPC and per-corruption means over the given corruptions' cells that are present."""
    per_corruption = {}
    for c in corruptions:
        values = [cells[(c, s)][stat] for s in SEVERITIES if (c, s) in cells]
        if values:
            per_corruption[c] = fmean(values)
    out: dict = {}
    if per_corruption:
        out["mPC"] = fmean(per_corruption.values())
        if clean:
            out["rPC"] = 100.0 * out["mPC"] / clean
    out["per_corruption"] = per_corruption
    return out


def corruption_summary(cells: Mapping[Cell, Mapping[str, float]], allow_partial: bool = False) -> dict:
    """Summarise a corruption grid: for every stat, P, mPC, rPC (percent) and per corruption/family/severity.

    ``cells`` maps a ``Cell`` (or a ``(corruption, severity)`` pair) to stats on the 0-100 scale
    (``{"AP": ..., "AP50": ..., "segm/AP": ...}``, or ``{"mIoU": ...}``), with the clean cell for the clean
    run. A grid missing the clean cell or any of
    the 15 x 5 benchmark cells (or, when holdout cells are given, any of the 4 x 5 holdout cells) raises
    ``IncompleteGridError`` naming them, unless ``allow_partial``: then the result has ``partial: true``,
    the ``missing`` cells, and each mean is taken over the cells present (mPC as the mean of the
    per-corruption means). Figures that cannot be computed (P without a clean cell, rPC when P is 0)
    are absent, never zero.
    """
    names = _check_cells(cells)
    missing = [cell for cell in _expected_cells(cells) if cell not in cells]
    if missing and not allow_partial:
        raise IncompleteGridError(missing)

    benchmark, holdout = BENCHMARK, HOLDOUT
    used = [(c, s) for c in (*benchmark, *holdout) for s in SEVERITIES if (c, s) in cells]
    stats: dict[str, dict] = {}
    holdout_stats: dict[str, dict] = {}
    for name in names:
        clean = cells[CLEAN_CELL][name] if CLEAN_CELL in cells else None
        entry: dict = {} if clean is None else {"P": clean}
        entry.update(_corrupted_figures(cells, benchmark, name, clean))
        per_corruption = entry["per_corruption"]
        entry["per_family"] = {
            f: fmean(per_corruption[c] for c in FAMILIES[f] if c in per_corruption)
            for f in FAMILIES
            if any(c in per_corruption for c in FAMILIES[f])
        }
        entry["per_severity"] = {
            str(s): fmean(cells[(c, s)][name] for c in benchmark if (c, s) in cells)
            for s in SEVERITIES
            if any((c, s) in cells for c in benchmark)
        }
        stats[name] = entry
        if any(c in holdout for c, _ in used):
            holdout_stats[name] = _corrupted_figures(cells, holdout, name, clean)

    summary = {
        "partial": bool(missing),
        "cells_used": [list(cell) for cell in used],
        "missing": [list(cell) for cell in missing],
        "stats": stats,
    }
    if holdout_stats:
        summary["holdout"] = holdout_stats
    return summary


def percentile_interval(values: np.ndarray, level: float = 0.95) -> list[float] | None:
    """The central ``level`` percentile interval of the finite values (None without any)."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if not finite.size:
        return None
    tail = 100 * (1 - level) / 2
    return [float(np.percentile(finite, tail)), float(np.percentile(finite, 100 - tail))]
