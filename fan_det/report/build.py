"""Read the inputs of every registered section, build the report and write ``report.json``,
``report.md`` (with ``figures/*.png``) and a self-contained ``report.html``, each file atomically."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from fan_det.report import plots, registry
from fan_det.report.content import build_report
from fan_det.report.inputs import ReportInputError, ResultFile, read_all
from fan_det.report.references import load_references
from fan_det.report.render import to_html, to_markdown
from fan_det.report.sections.provenance import run_info
from fan_det.runtime.atomic import atomic_write_bytes, atomic_write_text

FIGURES = "figures"


def _by_section(detection: Sequence, ood: Sequence, more: Mapping[str, Sequence]) -> dict[str, list]:
    given = {"detection": list(detection), "ood": list(ood), **{k: list(v) for k, v in more.items()}}
    keys = [s.key for s in registry.SECTIONS]
    unknown = sorted(set(given) - set(keys))
    if unknown:
        raise TypeError(f"no report section {', '.join(unknown)}; the sections are {', '.join(keys)}")
    return given


def load_inputs(detection: Sequence[str | Path] = (), ood: Sequence[str | Path] = (),
                **more: Sequence[str | Path]) -> dict[str, list[ResultFile]]:
    """Find, read, check and merge every input, by section key (``detection``, ``ood``, and the other
    registered sections' keys, e.g. ``coco_o``); raises ``ReportInputError`` with the reason."""
    given = _by_section(detection, ood, more)
    flags = {s.kind: s.flag for s in registry.SECTIONS}
    read = {s.key: read_all(given.get(s.key, []), s.kind, flags) for s in registry.SECTIONS}
    if not any(read.values()):
        listed = ", ".join(s.flag for s in registry.SECTIONS)
        raise ReportInputError(f"nothing to report: give at least one result ({listed})")
    return {s.key: s.merge(read[s.key]) for s in registry.SECTIONS}


def draw_all(report: dict) -> dict[str, tuple[str, bytes]]:
    """``{figure id: (caption, PNG bytes)}`` for every figure the sections draw from the report's content."""
    with plots.plain_text():
        figures = {}
        for section in registry.SECTIONS:
            figures |= section.figures(report)
        return {fig_id: (caption, plots.png(fig)) for fig_id, (caption, fig) in figures.items()}


def write_report(
    detection: Sequence[str | Path],
    ood: Sequence[str | Path],
    out_dir: str | Path,
    command: str | None = None,
    title: str | None = None,
    **more: Sequence[str | Path],
) -> dict[str, Path]:
    """Load and check the inputs, build the report and write its files; returns ``{kind: path}``.

    ``more``: the inputs of the other registered sections by key (``coco_o=[...]``).
    ``figures/`` holds this run's figures only: PNGs of an earlier report in the same folder are removed.
    """
    inputs = load_inputs(detection, ood, **more)
    info = run_info(command or " ".join(sys.argv), title)
    report = build_report(inputs, load_references(), info)
    figures = draw_all(report)
    out = Path(out_dir)
    folder = out / FIGURES
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.png"):
        stale.unlink()
    md_figures = {}
    for fig_id, (caption, png) in figures.items():
        atomic_write_bytes(folder / f"{fig_id}.png", png)
        md_figures[fig_id] = (caption, f"{FIGURES}/{fig_id}.png")
    paths = {"json": out / "report.json", "md": out / "report.md", "html": out / "report.html"}
    atomic_write_text(paths["json"], json.dumps(report, indent=1) + "\n")
    atomic_write_text(paths["md"], to_markdown(report, md_figures))
    atomic_write_text(paths["html"], to_html(report, figures))
    return paths
