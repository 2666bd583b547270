"""A results document is checked against itself on load: every summary figure equals what its own cells
give, and a malformed document (no cells, a string where a number belongs) is refused with one line, by
the results layer and by the report, never shown or turned into a plotting traceback."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fan_det.protocol import BENCHMARK, COCO_O_DOMAINS, SEVERITIES
from fan_det.report.__main__ import main as report_main
from fan_det.results import CocoOResult, ResultsError, RobustnessResult

FIXTURES = Path(__file__).parents[1] / "report" / "fixtures"


def robustness_doc(seed: int = 3) -> dict:
    """A complete grid of random cells, summarised by the writer."""
    rng = np.random.default_rng(seed)
    grid = [("clean", 0)] + [(c, s) for c in BENCHMARK for s in SEVERITIES]
    cells = [{"corruption": c, "severity": s, "num_images": 8, "seconds": 0.1,
              "stats": {"bbox": {"AP": float(rng.uniform(5, 40)), "AP50": float(rng.uniform(10, 60))}}}
             for c, s in grid]
    doc = RobustnessResult.build(model={"name": "m"}, dataset={"name": "d", "num_images": 8},
                                 protocol={"seed": 0}, cells=cells, allow_partial=False,
                                 provenance={"command": "x"})
    return json.loads(json.dumps(doc.doc))


def coco_o_doc(seed: int = 4) -> dict:
    rng = np.random.default_rng(seed)
    domains = {d: {"num_images": 5, "seconds": 0.1, "stats": {"bbox": {"AP": float(rng.uniform(1, 30))}}}
               for d in COCO_O_DOMAINS}
    doc = CocoOResult.build(model={"name": "m"}, dataset={"name": "COCO-O"}, domains=domains,
                            provenance={"command": "x"})
    return json.loads(json.dumps(doc.doc))


def first_cell(doc: dict) -> dict:
    return doc["cells"][0]["stats"]["bbox"]


ROBUSTNESS_EDITS = {
    # the shown case: mPC edited to 99 beside an rPC the cells still give
    "mPC edited": (lambda d: d["summary"]["stats"]["AP"].update(mPC=99.0), "stats.AP.mPC is 99.0"),
    "rPC edited": (lambda d: d["summary"]["stats"]["AP"].update(rPC=1.5), "stats.AP.rPC is 1.5"),
    "per-severity edited": (lambda d: d["summary"]["stats"]["AP50"]["per_severity"].update({"2": 7.0}),
                            "per_severity.2 is 7.0"),
    "cell edited": (lambda d: first_cell(d).update(AP=first_cell(d)["AP"] + 5), "stats.AP.P is"),
    "no cells": (lambda d: d.update(cells=[]), "no cells"),
    "string in a cell": (lambda d: first_cell(d).update(AP="12.5"), "'12.5', not a finite number"),
    "string in the summary": (lambda d: d["summary"]["stats"]["AP"].update(mPC="99"),
                              "'99', not a finite number"),
    "cell without stats": (lambda d: d["cells"][1].pop("stats"), "has no stats"),
    "cell without severity": (lambda d: d["cells"][1].update(severity="1"), "no corruption name and sev"),
}


@pytest.mark.parametrize("case", ROBUSTNESS_EDITS)
def test_an_edited_or_malformed_robustness_document_is_refused(tmp_path, case):
    edit, says = ROBUSTNESS_EDITS[case]
    doc = robustness_doc()
    RobustnessResult(doc).validate()  # the writer's document holds
    edit(doc)
    path = tmp_path / "robustness.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ResultsError) as refused:
        RobustnessResult.load(path)
    assert says in str(refused.value) and str(path) in str(refused.value)


COCO_O_EDITS = {
    "mean edited": (lambda d: d["summary"]["stats"]["AP"].update(mean=99.0), "stats.AP.mean is 99.0"),
    "no domains": (lambda d: d.update(domains={}), "no domains"),
    "string in a domain": (lambda d: d["domains"]["sketch"]["stats"]["bbox"].update(AP="3"), "'3', not a"),
}


@pytest.mark.parametrize("case", COCO_O_EDITS)
def test_an_edited_or_malformed_coco_o_document_is_refused(tmp_path, case):
    edit, says = COCO_O_EDITS[case]
    doc = coco_o_doc()
    CocoOResult(doc).validate()
    edit(doc)
    path = tmp_path / "coco_o.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ResultsError) as refused:
        CocoOResult.load(path)
    assert says in str(refused.value)


@pytest.mark.parametrize("case", ["mPC edited", "no cells", "string in the summary"])
def test_the_report_refuses_such_a_document_with_one_line(tmp_path, capsys, case):
    edit, says = ROBUSTNESS_EDITS[case]
    doc = json.loads((FIXTURES / "det_fan.json").read_text())  # a real tool's document
    edit(doc)
    path = tmp_path / "robustness.json"
    path.write_text(json.dumps(doc))
    assert report_main(["--detection", str(path), "--out", str(tmp_path / "report")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], err
    assert not (tmp_path / "report" / "report.md").exists()
