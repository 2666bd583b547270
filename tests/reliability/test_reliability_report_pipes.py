"""A ``|`` in a model or dataset name stays inside its table cell in report.md: unescaped, it would
split the cell and shift every number after it into the wrong column."""

from __future__ import annotations

import json
import re
from pathlib import Path

import markdown

from fan_det.report.__main__ import main

FIXTURES = Path(__file__).parents[1] / "report" / "fixtures"


def _rows(table_html: str) -> list[list[str]]:
    """The text of each row's cells, as a Markdown reader sees them."""
    cells = r"<t[hd][^>]*>(.*?)</t[hd]>"
    return [[re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(cells, row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", table_html, re.S)]


def test_a_pipe_in_a_name_stays_in_its_cell(tmp_path):
    doc = json.loads((FIXTURES / "ood_effnet.json").read_text())
    doc["model"]["name"] = "fan|tiny"
    doc["datasets"]["sketch|v2"] = doc["datasets"]["imagenet-sketch"]
    path = tmp_path / "ood.json"
    path.write_text(json.dumps(doc))
    assert main(["--ood", str(path), "--out", str(tmp_path / "out")]) == 0
    rendered = markdown.markdown((tmp_path / "out" / "report.md").read_text(), extensions=["tables"])
    tables = re.findall(r"<table>.*?</table>", rendered, re.S)
    assert tables
    named = 0
    for table in tables:
        rows = _rows(table)
        assert all(len(row) == len(rows[0]) for row in rows)  # no cell split in two
        for row in rows:
            named += "fan|tiny" in row
            assert not any(cell in ("fan", "tiny", "sketch", "v2") for cell in row)
    assert named >= 1  # the model's row shows its whole name in one cell
