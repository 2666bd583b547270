"""The hand-written result files the report tests read (a module of its own, not conftest)."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from fan_det.protocol import COCO_O_DOMAINS
from fan_det.results import CocoOResult

FIXTURES = Path(__file__).parent / "fixtures"
DETECTION = ["det_fan.json", "det_baseline.json", "det_partial.json"]
OOD = ["ood_fan.json", "ood_effnet.json"]


def load_fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())




def displayed(md: str) -> str:
    """Markdown text as a reader sees it once rendered: backslash escapes and HTML entities resolved."""
    return html.unescape(re.sub(r"\\([\\`*_\[\]|#!])", r"\1", md))


def read_md(paths: dict) -> str:
    return displayed(paths["md"].read_text())


def md_tables(md: str) -> dict[str, dict[str, dict[str, str]]]:
    """Every table of report.md as ``{title: {row label: {column label: cell}}}``, all text as displayed.

    A table is a bold title line, a blank line, then ``|``-rows (pipes escaped inside cells are kept)."""
    tables: dict[str, dict[str, dict[str, str]]] = {}
    lines = md.splitlines()
    for i, line in enumerate(lines):
        if not (line.startswith("**") and line.endswith("**") and i + 2 < len(lines)
                and lines[i + 2].startswith("|")):
            continue
        rows = []
        for body in lines[i + 2:]:
            if not body.startswith("|"):
                break
            rows.append([displayed(c.strip()) for c in re.split(r"(?<!\\)\|", body.strip()[1:-1])])
        header, data = rows[0], rows[2:]
        tables[displayed(line[2:-2])] = {r[0]: dict(zip(header[1:], r[1:], strict=True)) for r in data}
    return tables


def shown(value: float | int, interval: list | None = None) -> str:
    """A number as the report promises to print it (independent of fan_det): integers as written, others
    with two decimals, followed by the 95% interval ``[lo, hi]`` where the input has one."""
    text = str(value) if isinstance(value, int) else f"{value:.2f}"
    return text + (f" [{interval[0]:.2f}, {interval[1]:.2f}]" if interval else "")


def coco_o_file(tmp_path: Path, name: str, backbone: str, aps: list[float]) -> Path:
    """A ``coco_o.json`` of one model with the given box AP per domain."""
    domains = {d: {"num_images": 10, "seconds": 1.0, "stats": {"bbox": {"AP": ap}}}
               for d, ap in zip(COCO_O_DOMAINS, aps, strict=True)}
    doc = CocoOResult.build(model={"name": name, "backbone": backbone}, dataset={"name": "coco_o"},
                            domains=domains, provenance={"command": "test"})
    return doc.dump(tmp_path / name / "coco_o.json")
