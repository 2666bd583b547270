"""Write ``report.json``, ``report.md`` (with ``figures/*.png``) and a self-contained ``report.html``."""

from __future__ import annotations

import datetime
import json
import platform
import sys
from importlib import metadata
from pathlib import Path

from fan_det.report.inputs import load_inputs
from fan_det.report.model import build_report
from fan_det.report.plots import draw_all
from fan_det.report.references import EVAL_DIR, load_protocols, load_references
from fan_det.report.render import to_html, to_markdown


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def run_info(command: str, title: str | None = None) -> dict:
    """Where and when the report itself was made."""
    info = {
        "fan_det": _version("fan_det"),
        "python": platform.python_version(),
        "numpy": _version("numpy"),
        "matplotlib": _version("matplotlib"),
        "machine": f"{platform.machine()} {platform.node()}",
        "platform": platform.platform(),
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": command,
    }
    if title:
        info["title"] = title
    return info


def write_report(
    detection: list[str | Path],
    ood: list[str | Path],
    out_dir: str | Path,
    command: str | None = None,
    title: str | None = None,
    eval_dir: Path = EVAL_DIR,
) -> dict[str, Path]:
    """Load and check the inputs, build the report and write its files; returns ``{kind: path}``."""
    det_files, ood_files = load_inputs(detection, ood)
    protocols = load_protocols(eval_dir)
    report = build_report(
        det_files,
        ood_files,
        protocols,
        load_references(eval_dir),
        run_info(command or " ".join(sys.argv), title),
    )
    out = Path(out_dir)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    figures = draw_all(report, protocols)
    md_figures = {}
    for fig_id, (caption, png) in figures.items():
        (out / "figures" / f"{fig_id}.png").write_bytes(png)
        md_figures[fig_id] = (caption, f"figures/{fig_id}.png")
    paths = {"json": out / "report.json", "md": out / "report.md", "html": out / "report.html"}
    paths["json"].write_text(json.dumps(report, indent=1) + "\n")
    paths["md"].write_text(to_markdown(report, md_figures))
    paths["html"].write_text(to_html(report, figures))
    return paths
