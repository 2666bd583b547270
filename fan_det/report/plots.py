"""The report's figures, drawn from the report model as matplotlib Figures (no pyplot, no display);
``png`` turns one into bytes. The sections choose which to draw (``Section.figures``).

- a corruption x severity heat map of box AP per detection model, holdout corruptions in their own panel
  (and of mIoU per segmentation model, the protocol's corruptions in the paper's order);
- box AP (or mIoU) against severity per corruption family (severity 0 = clean), one panel per family,
  holdout apart;
- OOD top-1 per dataset and model;
- effective robustness: timm's reference cloud, its fitted line and our models, on transformed axes.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from fan_det.metrics.effective_robustness import as_accuracy, from_transformed, predict, to_transformed
from fan_det.protocol import BENCHMARK, FAMILIES, HOLDOUT, SEVERITIES
from fan_det.report.effective_robustness import SHIFTS, reference_lines, reference_pairs


def png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return buf.getvalue()


def plain_text() -> matplotlib.rc_context:
    """Labels drawn as they are: a model name holding ``$`` never starts mathtext."""
    return matplotlib.rc_context({"text.parse_math": False})


def box_ap(cell: dict) -> float:
    """A COCO-C cell's box AP, what the detection figures show."""
    return cell["stats"]["bbox"]["AP"]


def _grid(cells: list[dict], corruptions: Sequence[str], severities: Sequence[int],
          value: Callable[[dict], float]) -> np.ndarray:
    index = {(c["corruption"], c["severity"]): value(c) for c in cells}
    return np.array([[index.get((c, s), np.nan) for s in severities] for c in corruptions], dtype=float)


def heatmap(models: list[dict], value: Callable[[dict], float] = box_ap, label: str = "box AP",
            groups: Sequence[tuple[str, Sequence[str]]] | None = None,
            severities: Sequence[int] = SEVERITIES) -> Figure:
    """``value`` (default box AP) per corruption and severity, one column of panels per model, one row of
    panels per group of corruptions (default: the benchmark ones, then the holdout ones where evaluated);
    grey = not evaluated."""
    severities = list(severities)
    if groups is None:
        groups = [
            (g, cs)
            for g, cs in (("benchmark", BENCHMARK), ("holdout", HOLDOUT))
            if g == "benchmark" or any(c["corruption"] in cs for m in models for c in m["cells"])
        ]
    heights = [len(cs) for _, cs in groups]
    fig = Figure(figsize=(3.6 * len(models) + 0.8, 0.32 * sum(heights) + 1.6))
    axes = fig.subplots(len(groups), len(models), squeeze=False, gridspec_kw={"height_ratios": heights})
    values = [value(c) for m in models for c in m["cells"]]
    vmax = max(values, default=0.0) or 1.0
    cmap = "viridis"
    image = None
    for j, m in enumerate(models):
        for i, (group, corruptions) in enumerate(groups):
            ax = axes[i][j]
            grid = _grid(m["cells"], corruptions, severities, value)
            image = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=0, vmax=vmax, aspect="auto")
            ax.set_facecolor("#cccccc")
            for (r, c), v in np.ndenumerate(grid):
                ax.text(
                    c,
                    r,
                    "n/a" if np.isnan(v) else f"{v:.1f}",
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="black" if np.isnan(v) or v > 0.6 * vmax else "white",
                )
            ax.set_xticks(range(len(severities)), [str(s) for s in severities], fontsize=7)
            ax.set_yticks(
                range(len(corruptions)), corruptions if j == 0 else [""] * len(corruptions), fontsize=7
            )
            title = textwrap.fill(m["display"], 42) if i == 0 else ""
            ax.set_title(f"{title}\n{group}" if title else group, fontsize=7)
            if i == len(groups) - 1:
                ax.set_xlabel("severity", fontsize=7)
    if image is not None:
        fig.colorbar(image, ax=axes.ravel().tolist(), label=f"{label} (0-100)", shrink=0.6)
    return fig


def severity_curves(models: list[dict], label: str = "box AP",
                    families: Sequence[str] = (*FAMILIES, "holdout")) -> Figure:
    """``label`` (default box AP) against severity per family, from each model's ``family_curves``; a
    holdout panel is drawn apart (dashed, own title)."""
    families = [f for f in families if any(f in m["family_curves"] for m in models)]
    fig = Figure(figsize=(3.0 * len(families), 3.0))
    axes = fig.subplots(1, len(families), squeeze=False, sharey=True)[0]
    for ax, family in zip(axes, families, strict=True):
        for m in models:
            points = m["family_curves"].get(family)
            if not points:
                continue
            xs = sorted(int(s) for s in points)
            ax.plot(
                xs,
                [points[str(s)] for s in xs],
                marker="o",
                linestyle="--" if family == "holdout" else "-",
                label=m["display"],
            )
        ax.set_title("holdout (not in mPC)" if family == "holdout" else family, fontsize=9)
        ax.set_xlabel("severity (0 = clean)", fontsize=8)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"{label} (0-100)", fontsize=8)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(
        handles, labels, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(len(models), 3)
    )
    return fig


def ood_bars_figure(glance: dict) -> Figure:
    """Grouped bars of the 'at a glance' OOD table: one group per dataset, one bar per model, each with
    its 95% interval as an error bar where the table has one (gid ``interval-<row>``)."""
    columns = [c["label"] for c in glance["columns"]]
    rows = glance["rows"]
    width = 0.8 / max(len(rows), 1)
    fig = Figure(figsize=(1.6 * len(columns) + 2.5, 3.2))
    ax = fig.subplots()
    x = np.arange(len(columns))
    for i, r in enumerate(rows):
        heights = np.array([np.nan if v is None else v for v in r["values"]], dtype=float)
        bounds = np.array([[np.nan, np.nan] if ci is None else ci for ci in r["intervals"]], dtype=float)
        at = x + (i - (len(rows) - 1) / 2) * width
        ax.bar(at, heights, width, label=r["label"])
        has = ~np.isnan(bounds[:, 0]) & ~np.isnan(heights)
        if has.any():
            yerr = np.maximum(np.vstack([heights[has] - bounds[has, 0], bounds[has, 1] - heights[has]]), 0)
            drawn = ax.errorbar(at[has], heights[has], yerr=yerr, fmt="none", ecolor="0.2", elinewidth=0.8,
                                capsize=2)
            drawn[2][0].set_gid(f"interval-{i}")
    ax.set_xticks(x, columns, fontsize=8)
    ax.set_ylabel("top-1 (0-100)", fontsize=8)
    ax.set_ylim(0, 100)
    ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=min(len(rows), 2))
    ax.grid(axis="y", alpha=0.3)
    return fig


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


def effective_robustness_figure(shift: str, user_points: Mapping[str, tuple[float, float]],
                                transform: str = "logit") -> Figure:
    """The reference cloud (grey, gid ``reference-cloud``), its fitted line and the user's models.

    ``user_points``: label -> (ID top-1, OOD top-1), 0-100, the ID accuracy as the shift pairs it.
    Labels are drawn as plain text (``parse_math=False``: a ``$`` never starts mathtext). A model outside
    ``SHOWN_RANGE`` on either axis is drawn at the range's edge as a triangle, its label giving its values.
    """
    pairs = reference_pairs(shift)  # refuses an unknown shift
    s, line = SHIFTS[shift], reference_lines(transform)[shift]
    labels = list(user_points)
    user = as_accuracy([user_points[k] for k in labels], "user points").reshape(-1, 2)
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


def effective_robustness_plot(shift: str, user_points: Mapping[str, tuple[float, float]], path: str | Path,
                              transform: str = "logit") -> Figure:
    """Write ``effective_robustness_figure(...)`` as a PNG to ``path``; returns the figure drawn."""
    fig = effective_robustness_figure(shift, user_points, transform)
    fig.savefig(path, format="png", dpi=110)
    return fig
