"""Write ``report.json``, ``report.md`` (with ``figures/*.png``) and a self-contained ``report.html``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from fan_det.report import plots
from fan_det.report.content import build_report
from fan_det.report.inputs import load_coco_o, load_inputs
from fan_det.report.references import load_references
from fan_det.report.render import to_html, to_markdown
from fan_det.report.sections.effective import effective_figures
from fan_det.report.sections.provenance import run_info

FIGURES = "figures"


def draw_all(report: dict) -> dict[str, tuple[str, bytes]]:
    """``{figure id: (caption, PNG bytes)}`` for every figure the report's content allows."""
    with plots.plain_text():
        figures = {}
        det = report["detection"]["models"]
        if det:
            figures["det-heatmap"] = (
                "Box AP per corruption and severity (heat map; holdout below, not in mPC)",
                plots.heatmap(det))
            figures["det-severity"] = ("Box AP against severity per corruption family (holdout apart)",
                                       plots.severity_curves(det))
        glance = [t for t in report["ood"]["tables"] if t["id"] == "ood-glance"]
        if glance:
            figures["ood-bars"] = ("Top-1 per OOD dataset and model, with 95% intervals where measured",
                                   plots.ood_bars(glance[0]))
        effective = effective_figures(report["ood"]["models"], report["effective_robustness"])
        return figures | {fig_id: (caption, plots.png(fig)) for fig_id, (caption, fig) in effective.items()}


def write_report(
    detection: list[str | Path],
    ood: list[str | Path],
    out_dir: str | Path,
    command: str | None = None,
    title: str | None = None,
    coco_o: list[str | Path] = (),
) -> dict[str, Path]:
    """Load and check the inputs, build the report and write its files; returns ``{kind: path}``.

    ``figures/`` holds this run's figures only: PNGs of an earlier report in the same folder are removed.
    """
    det_files, ood_files = load_inputs(detection, ood)
    coco_o_files = load_coco_o(list(coco_o))
    info = run_info(command or " ".join(sys.argv), title)
    report = build_report(det_files, ood_files, load_references(), info, coco_o_files)
    figures = draw_all(report)
    out = Path(out_dir)
    folder = out / FIGURES
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.png"):
        stale.unlink()
    md_figures = {}
    for fig_id, (caption, png) in figures.items():
        (folder / f"{fig_id}.png").write_bytes(png)
        md_figures[fig_id] = (caption, f"{FIGURES}/{fig_id}.png")
    paths = {"json": out / "report.json", "md": out / "report.md", "html": out / "report.html"}
    paths["json"].write_text(json.dumps(report, indent=1) + "\n")
    paths["md"].write_text(to_markdown(report, md_figures))
    paths["html"].write_text(to_html(report, figures))
    return paths
