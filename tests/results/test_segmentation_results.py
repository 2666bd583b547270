"""segmentation.json and acdc.json: built from cells, round-tripped, and refused when inconsistent."""

import copy
import json
import math

import numpy as np
import pytest

from fan_det.protocol import ACDC_CONDITIONS, PROTOCOLS
from fan_det.results import KINDS, AcdcResult, ResultsError, SegmentationResult

CLASSES = ["road", "car", "sky"]


def _stats(rng) -> dict:
    iou = {name: float(rng.uniform(10, 90)) for name in CLASSES[:2]}
    return {"mIoU": float(np.mean(list(iou.values()))), "IoU": iou, "excluded": ["sky"]}


def _cells(protocol: str = "fan-city-c", seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    grid = [("clean", 0)] + [tuple(c) for c in PROTOCOLS[protocol].cells]
    return [{"corruption": c, "severity": s, "num_images": 4, "seconds": 0.1, "payload": "dropped",
             "stats": _stats(rng)} for c, s in grid]


def _doc(cells=None, protocol="fan-city-c", intervals=None, allow_partial=False) -> SegmentationResult:
    return SegmentationResult.build(
        model={"name": "m"}, dataset={"name": "d", "num_images": 4, "classes": CLASSES},
        protocol={"name": protocol, "seed": 0, "mode": "on-the-fly"}, cells=cells or _cells(protocol),
        allow_partial=allow_partial, provenance={"command": "x"}, intervals=intervals)


def test_summary_is_the_protocol_mean_of_the_cells_and_round_trips(tmp_path):
    cells = _cells()
    doc = _doc(cells, intervals={"P": [1.0, 2.0], "mPC": [0.5, 1.5], "rPC": [40.0, 60.0],
                                 "method": "percentile bootstrap over images", "resamples": 9, "seed": 0,
                                 "level": 0.95})
    clean = cells[0]["stats"]["mIoU"]
    means = [np.mean([x["stats"]["mIoU"] for x in cells if x["corruption"] == c])
             for c in PROTOCOLS["fan-city-c"].corruptions]
    assert doc.stat()["P"] == clean and doc.stat()["mPC"] == pytest.approx(np.mean(means))
    assert doc.stat()["rPC"] == pytest.approx(100 * np.mean(means) / clean)
    assert doc.stat()["rPC_ci"] == [40.0, 60.0] and doc.protocol["bootstrap"]["resamples"] == 9
    assert doc.protocol["name"] == "fan-city-c" and doc.protocol["severities"] == [1, 2, 3]
    assert doc.protocol["seed"] == 0 and "payload" not in doc.cells[0]
    loaded = SegmentationResult.load(doc.dump(tmp_path / "segmentation.json"))
    assert loaded.doc == json.loads(json.dumps(doc.doc))
    assert KINDS["segmentation"] is SegmentationResult and KINDS["acdc"] is AcdcResult


def _miou(d):
    return d["summary"]["stats"]["mIoU"]


def _set_first_corrupted(d, **values):
    d["cells"][1]["stats"].update(values)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: _miou(d).update(P=1.0), "disagrees with the clean cell"),
    (lambda d: _miou(d)["per_corruption"].update(gaussian_noise=1.0),
     "gaussian_noise is 1.0, which disagrees with its cells"),
    (lambda d: _miou(d).update(rPC=1.0), "rPC is 1.0, which disagrees with its cells"),
    (lambda d: _miou(d).update(mPC=math.nan), "absent figures must be left out"),
    (lambda d: _miou(d).update(P_ci=[3.0, 1.0]), "not an interval"),
    (lambda d: d["cells"].append({**d["cells"][1], "severity": 5}), "not in protocol"),
    (lambda d: d["protocol"].update(name="coco-c"), "unknown protocol"),
    (lambda d: d["protocol"].update(severities=[1, 2, 3, 4, 5]), "other severities"),
    (lambda d: d["cells"].append(copy.deepcopy(d["cells"][0])), "appears twice"),
    (lambda d: _set_first_corrupted(d, mIoU=99.0), "not the mean of its per-class IoU"),
    (lambda d: _set_first_corrupted(d, IoU={"tree": 5.0}), "the dataset lacks"),
    (lambda d: d["cells"][1]["stats"].pop("IoU"), "no mIoU"),
    (lambda d: d["dataset"].pop("classes"), "dataset.classes"),
])
def test_inconsistent_documents_are_refused(tmp_path, edit, message):
    doc = json.loads(json.dumps(_doc().doc))
    edit(doc)
    path = tmp_path / "segmentation.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ResultsError, match=message):
        SegmentationResult.load(path)


def test_a_partial_grid_is_refused_unless_allowed():
    cells = _cells("benchmark")[:-1]
    with pytest.raises(ValueError, match="jpeg_compression/5"):
        _doc(cells, protocol="benchmark")
    doc = _doc(cells, protocol="benchmark", allow_partial=True)
    assert doc.partial and doc.summary["missing"] == [["jpeg_compression", 5]]


def test_acdc_document_means_its_conditions_and_refuses_disagreement(tmp_path):
    rng = np.random.default_rng(1)
    conditions = {c: {"num_images": 3, "seconds": 0.2, "stats": _stats(rng)} for c in ACDC_CONDITIONS}
    doc = AcdcResult.build(model={"name": "m"}, dataset={"name": "acdc", "classes": CLASSES},
                           conditions=conditions, provenance={},
                           intervals={"per_domain": {"fog": [1.0, 2.0]}, "mean": [3.0, 4.0],
                                      "method": "m", "resamples": 5, "seed": 0, "level": 0.95})
    values = [conditions[c]["stats"]["mIoU"] for c in ACDC_CONDITIONS]
    assert doc.summary["mean"] == pytest.approx(np.mean(values)) and not doc.summary["partial"]
    assert doc.summary["per_condition_ci"] == {"fog": [1.0, 2.0]} and doc.summary["mean_ci"] == [3.0, 4.0]
    AcdcResult.load(doc.dump(tmp_path / "acdc.json"))
    bad = json.loads(json.dumps(doc.doc))
    bad["summary"]["per_condition"]["night"] += 1
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(ResultsError, match="condition night"):
        AcdcResult.load(tmp_path / "bad.json")
    partial = AcdcResult.build(model={"name": "m"}, dataset={}, conditions={"fog": conditions["fog"]},
                               provenance={})
    assert partial.summary["partial"] and partial.summary["missing"] == ["night", "rain", "snow"]
    with pytest.raises(ValueError, match="unknown ACDC condition"):
        AcdcResult.build(model={"name": "m"}, dataset={}, conditions={"dusk": conditions["fog"]},
                         provenance={})
