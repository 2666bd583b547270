"""The report's figures, drawn from the report model and returned as PNG bytes (no pyplot, no display).

- a corruption x severity heat map of box AP per detection model, holdout corruptions in their own panel;
- box AP against severity per corruption family (severity 0 = clean), one panel per family, holdout apart;
- OOD top-1 per dataset and model.
"""

from __future__ import annotations

import io
import textwrap

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from fan_det.protocol import BENCHMARK, FAMILIES, HOLDOUT, SEVERITIES
from fan_det.report.sections.effective import effective_figures


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return buf.getvalue()


def plain_text() -> matplotlib.rc_context:
    """Labels drawn as they are: a model name holding ``$`` never starts mathtext."""
    return matplotlib.rc_context({"text.parse_math": False})


def _grid(cells: list[dict], corruptions: list[str], severities: list[int]) -> np.ndarray:
    index = {(c["corruption"], c["severity"]): c["stats"]["bbox"]["AP"] for c in cells}
    return np.array([[index.get((c, s), np.nan) for s in severities] for c in corruptions], dtype=float)


def heatmap(models: list[dict]) -> bytes:
    """Box AP per corruption and severity, one column of panels per model; grey = not evaluated."""
    severities = list(SEVERITIES)
    groups = [("benchmark", BENCHMARK), ("holdout", HOLDOUT)]
    groups = [
        (g, cs)
        for g, cs in groups
        if g == "benchmark" or any(c["corruption"] in cs for m in models for c in m["cells"])
    ]
    heights = [len(cs) for _, cs in groups]
    fig = Figure(figsize=(3.6 * len(models) + 0.8, 0.32 * sum(heights) + 1.6))
    axes = fig.subplots(len(groups), len(models), squeeze=False, gridspec_kw={"height_ratios": heights})
    values = [c["stats"]["bbox"]["AP"] for m in models for c in m["cells"]]
    vmax = max(values, default=0.0) or 1.0
    cmap = "viridis"
    image = None
    for j, m in enumerate(models):
        for i, (group, corruptions) in enumerate(groups):
            ax = axes[i][j]
            grid = _grid(m["cells"], corruptions, severities)
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
        fig.colorbar(image, ax=axes.ravel().tolist(), label="box AP (0-100)", shrink=0.6)
    return _png(fig)


def severity_curves(models: list[dict]) -> bytes:
    """Box AP against severity per family; the holdout panel is drawn apart (dashed, own title)."""
    families = list(FAMILIES) + ["holdout"]
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
    axes[0].set_ylabel("box AP (0-100)", fontsize=8)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(
        handles, labels, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(len(models), 3)
    )
    return _png(fig)


def ood_bars(glance: dict) -> bytes:
    """``ood_bars_figure`` as PNG bytes."""
    return _png(ood_bars_figure(glance))


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


def draw_all(report: dict) -> dict[str, tuple[str, bytes]]:
    """``{figure id: (caption, PNG bytes)}`` for every figure the report's content allows."""
    with plain_text():
        return _draw_all(report)


def _draw_all(report: dict) -> dict[str, tuple[str, bytes]]:
    figures = {}
    det = report["detection"]["models"]
    if det:
        figures["det-heatmap"] = (
            "Box AP per corruption and severity (heat map; holdout below, not in mPC)",
            heatmap(det),
        )
        figures["det-severity"] = (
            "Box AP against severity per corruption family (holdout apart)",
            severity_curves(det),
        )
    glance = [t for t in report["ood"]["tables"] if t["id"] == "ood-glance"]
    if glance:
        figures["ood-bars"] = ("Top-1 per OOD dataset and model, with 95% intervals where measured",
                               ood_bars(glance[0]))
    effective = effective_figures(report["ood"]["models"], report["effective_robustness"])
    return figures | {fig_id: (caption, _png(fig)) for fig_id, (caption, fig) in effective.items()}
