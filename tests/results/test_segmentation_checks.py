"""segmentation.json's own checks: a partial grid and a cell within the tolerance load; each refusal of the
protocol and of a cell is one whole line naming the cell or the protocols."""

import json

import numpy as np
import pytest

from fan_det.protocol import PROTOCOLS
from fan_det.results import ResultsError, SegmentationResult

PROTOCOL = "city-c-16"


def _cells(seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    cells = []
    for corruption, severity in [("clean", 0), *PROTOCOLS[PROTOCOL].cells]:
        iou = {"road": float(rng.uniform(30, 95)), "car": float(rng.uniform(1, 70))}
        cells.append({"corruption": corruption, "severity": severity, "num_images": 2, "seconds": 0.3,
                      "stats": {"mIoU": (iou["road"] + iou["car"]) / 2, "IoU": iou, "excluded": []}})
    return cells


def _build(cells: list[dict], allow_partial: bool = False) -> dict:
    doc = SegmentationResult.build(model={"name": "m"}, dataset={"name": "city", "classes": ["road", "car"]},
                                   protocol={"name": PROTOCOL}, cells=cells, allow_partial=allow_partial,
                                   provenance={"command": "eval"})
    return json.loads(json.dumps(doc.doc))


def _load(tmp_path, doc: dict) -> SegmentationResult:
    path = tmp_path / "segmentation.json"
    path.write_text(json.dumps(doc))
    return SegmentationResult.load(path)


def test_a_partial_grid_loads_with_its_missing_cells(tmp_path):
    cells = [c for c in _cells(1) if c["corruption"] != "fog"]
    loaded = _load(tmp_path, _build(cells, allow_partial=True))
    assert loaded.partial and loaded.summary["missing"] == [["fog", 1], ["fog", 2], ["fog", 3]]
    assert "fog" not in loaded.stat()["per_corruption"]


def test_a_cell_mean_off_by_exactly_the_tolerance_is_accepted(tmp_path):
    cells = _cells(2)
    cells[5]["stats"] = {"mIoU": 1e-6, "IoU": {"road": 0.0, "car": 0.0}, "excluded": []}
    assert _load(tmp_path, _build(cells)).cells[5]["stats"]["mIoU"] == 1e-6


def _set_protocol_of_summary(d: dict) -> None:
    d["summary"]["protocol"] = "fan-city-c"


def _six_outside(d: dict) -> None:
    template = d["cells"][1]
    d["cells"] += [{**template, "corruption": c, "severity": s}
                   for c in ("fog", "snow") for s in (4, 5, 6)]


@pytest.mark.parametrize(("edit", "line"), [
    (lambda d: d["protocol"].update(name="coco-c"),
     "unknown protocol 'coco-c'; protocols: benchmark, fan-city-c, city-c-16"),
    (_set_protocol_of_summary, "summary is of protocol 'fan-city-c', the file's is 'city-c-16'"),
    (_six_outside, "cells ['fog/4', 'fog/5', 'fog/6', 'snow/4', 'snow/5'] are not in protocol 'city-c-16'"),
    (lambda d: d["cells"][5]["stats"].pop("IoU"),
     "cell defocus_blur severity 2 has no mIoU and per-class IoU"),
])
def test_refusals_are_one_whole_line(tmp_path, edit, line):
    doc = _build(_cells(3))
    edit(doc)
    with pytest.raises(ResultsError) as error:
        _load(tmp_path, doc)
    assert str(error.value) == f"{tmp_path / 'segmentation.json'}: {line}"
