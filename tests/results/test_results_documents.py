"""The one results layer: documents round-trip, and anything a reader could misstate is refused."""

import json
import math

import numpy as np
import pytest

from fan_det.protocol import BENCHMARK, COCO_O_DOMAINS, SEVERITIES
from fan_det.results import KINDS, CocoOResult, OODResult, ResultsError, RobustnessResult, flatten_stats


def _cells(seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    grid = [("clean", 0)] + [(c, s) for c in BENCHMARK for s in SEVERITIES]
    return [{"corruption": c, "severity": s, "num_images": 16, "seconds": 0.5, "extra": "dropped",
             "stats": {"bbox": {"AP": float(rng.uniform(5, 40)), "AP50": float(rng.uniform(10, 60))}}}
            for c, s in grid]


def _robustness(cells=None) -> RobustnessResult:
    return RobustnessResult.build(model={"name": "m"}, dataset={"name": "d", "num_images": 16},
                                  protocol={"seed": 0}, cells=cells or _cells(), allow_partial=False,
                                  provenance={"command": "x"})


def test_robustness_document_summarises_its_cells_and_round_trips(tmp_path):
    cells = _cells()
    doc = _robustness(cells)
    clean = cells[0]["stats"]["bbox"]["AP"]
    per_corruption = {c: np.mean([x["stats"]["bbox"]["AP"] for x in cells if x["corruption"] == c])
                      for c in BENCHMARK}
    assert doc.stat("AP")["P"] == pytest.approx(clean)
    assert doc.stat("AP")["mPC"] == pytest.approx(np.mean(list(per_corruption.values())))
    assert doc.stat("AP")["rPC"] == pytest.approx(100 * doc.stat("AP")["mPC"] / clean)
    assert "extra" not in doc.cells[0]
    loaded = RobustnessResult.load(doc.dump(tmp_path / "robustness.json"))
    assert loaded.doc == json.loads(json.dumps(doc.doc)) and loaded.model_name == "m"


def test_flatten_stats_names_mask_stats_by_task():
    assert flatten_stats({"bbox": {"AP": 1.0}, "segm": {"AP": 2.0}}) == {"AP": 1.0, "segm/AP": 2.0}


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d.update(schema="fan_det.ood/1"), "expected fan_det.robustness/1"),
    (lambda d: d.update(schema="fan_det.robustness/2"), "unknown schema version"),
    (lambda d: d.update(scale="0-1"), "scale"),
    (lambda d: d["summary"]["stats"]["AP"].update(mPC=math.nan), "absent figures must be left out"),
    (lambda d: d["summary"]["stats"]["AP"].update(P=99.0), "AP.P is 99.0, which disagrees"),
    (lambda d: d["summary"]["stats"]["AP"]["per_corruption"].update(fog=99.0), "fog is 99.0, which disag"),
    (lambda d: d["cells"].append(dict(d["cells"][0])), "appears twice"),
    (lambda d: d.pop("provenance"), "provenance"),
])
def test_robustness_refusals(tmp_path, edit, message):
    doc = json.loads(json.dumps(_robustness().doc))
    edit(doc)
    path = tmp_path / "robustness.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ResultsError, match=message):
        RobustnessResult.load(path)


def test_unreadable_files_are_refused_with_the_path(tmp_path):
    (tmp_path / "a.json").write_text("{not json")
    (tmp_path / "b.json").write_text("[1, 2]")
    with pytest.raises(ResultsError, match="a.json: not valid JSON"):
        OODResult.load(tmp_path / "a.json")
    with pytest.raises(ResultsError, match="b.json: expected a JSON object"):
        OODResult.load(tmp_path / "b.json")
    with pytest.raises(ResultsError, match="cannot read"):
        OODResult.load(tmp_path / "missing.json")


def test_ood_document_refuses_null_metrics_and_no_datasets(tmp_path):
    good = OODResult.build(model={"name": "c"}, preprocessing={}, provenance={},
                           datasets={"imagenet-a": {"num_images": 6, "metrics": {"top1": 50.0}}})
    assert OODResult.load(good.dump(tmp_path / "ood.json")).metrics("imagenet-a") == {"top1": 50.0}
    for datasets, message in (({}, "no datasets"), ({"imagenet": {"metrics": {"top1": None}}}, "left out")):
        bad = OODResult.build(model={"name": "c"}, preprocessing={}, provenance={}, datasets=datasets)
        with pytest.raises(ResultsError, match=message):
            bad.dump(tmp_path / "bad.json")
    assert not (tmp_path / "bad.json").exists()


def test_coco_o_document_means_its_domains(tmp_path):
    rng = np.random.default_rng(3)
    aps = {d: float(rng.uniform(1, 30)) for d in COCO_O_DOMAINS}
    doc = CocoOResult.build(model={"name": "m"}, dataset={"root": "r"}, provenance={},
                            domains={d: {"num_images": 2, "seconds": 1.0, "stats": {"bbox": {"AP": ap}}}
                                     for d, ap in aps.items()})
    assert doc.stat("AP")["mean"] == pytest.approx(sum(aps.values()) / 6)
    assert not doc.summary["partial"]
    loaded = CocoOResult.load(doc.dump(tmp_path / "coco_o.json"))
    loaded.doc["summary"]["stats"]["AP"]["per_domain"]["sketch"] += 1
    with pytest.raises(ResultsError, match="disagrees"):
        loaded.validate()
    assert set(KINDS) == {"robustness", "ood", "coco_o", "segmentation", "acdc"}
