"""acdc.json: what a build records, the documents a check accepts (partial, without intervals, within the
tolerance) and each refusal's whole line."""

import json
import math

import numpy as np
import pytest

from fan_det.protocol import ACDC_CONDITIONS
from fan_det.results import AcdcResult, ResultsError

SETTINGS = {"method": "percentile bootstrap over images", "resamples": 7, "seed": 2, "level": 0.9}
FIX = "rerun python -m fan_det.eval_acdc"


def _conditions(seed: int, names=ACDC_CONDITIONS) -> dict:
    rng = np.random.default_rng(seed)
    out = {}
    for name in names:
        iou = {"road": float(rng.uniform(20, 95)), "car": float(rng.uniform(5, 80))}
        out[name] = {"num_images": 3, "seconds": 0.4, "stats": {"mIoU": (iou["road"] + iou["car"]) / 2,
                                                                  "IoU": iou, "excluded": ["sky"]}}
    return out


def _build(conditions: dict, intervals=None) -> AcdcResult:
    return AcdcResult.build(model={"name": "m"}, dataset={"name": "acdc", "classes": ["road", "car", "sky"]},
                            conditions=conditions, provenance={"command": "eval"}, intervals=intervals)


def _load(tmp_path, doc: dict) -> AcdcResult:
    path = tmp_path / "acdc.json"
    path.write_text(json.dumps(doc))
    return AcdcResult.load(path)


def test_settings_go_to_provenance_and_a_mean_interval_alone_is_kept():
    doc = _build(_conditions(3), intervals={"mean": [41.0, 47.5], **SETTINGS})
    assert doc.summary["mean_ci"] == [41.0, 47.5] and doc.summary["per_condition_ci"] == {}
    assert doc.provenance == {"command": "eval", "bootstrap": SETTINGS}
    with pytest.raises(ValueError) as error:
        _build({"dusk": _conditions(3)["fog"]})
    assert str(error.value) == "unknown ACDC condition(s) ['dusk']; conditions: fog, night, rain, snow"


def test_partial_documents_and_documents_without_intervals_load(tmp_path):
    partial = _build(_conditions(4, ("night", "snow")))
    assert partial.summary["missing"] == ["fog", "rain"]
    assert _load(tmp_path, partial.doc).summary == json.loads(json.dumps(partial.doc))["summary"]
    assert "per_condition_ci" not in _load(tmp_path, _build(_conditions(5)).doc).summary


def test_differences_up_to_the_tolerance_are_accepted(tmp_path):
    zero = _conditions(6)
    for record in zero.values():
        record["stats"].update(mIoU=0.0, IoU={"road": 0.0, "car": 0.0})
    doc = _build(zero).doc
    doc["summary"]["mean"] = 1e-6  # exactly the tolerance from the conditions' mean, 0
    _load(tmp_path, doc)
    doc["summary"]["per_condition"]["fog"] = 1e-6  # exactly the tolerance from fog's own mIoU, 0
    doc["summary"]["mean"] = 2.5e-7                # the mean of the figures shown
    _load(tmp_path, doc)


def _set(block: dict, key: str, value) -> None:
    block[key] = value


def _add_dusk(d: dict) -> None:
    d["conditions"]["dusk"] = d["conditions"]["fog"]
    d["summary"]["per_condition"]["dusk"] = d["summary"]["per_condition"]["fog"]
    d["summary"]["mean"] = math.fsum(d["summary"]["per_condition"].values()) / 5


DISAGREES = "condition {}'s mIoU {} disagrees with the summary's {}; " + FIX


@pytest.mark.parametrize(("edit", "line"), [
    (lambda d: _set(d["summary"], "mean", math.nan), "summary mean is nan; absent figures must be left out"),
    (_add_dusk, "unknown ACDC condition(s) ['dusk']"),
    (lambda d: d["summary"].pop("per_condition"), DISAGREES.format("fog", 50.0, None)),
    (lambda d: _set(d["conditions"], "fog", 50.0), DISAGREES.format("fog", None, 50.0)),
    (lambda d: d["conditions"]["fog"].pop("stats"), DISAGREES.format("fog", None, 50.0)),
    (lambda d: d["summary"]["per_condition"].pop("rain"), DISAGREES.format("rain", 30.0, None)),
    (lambda d: _set(d["summary"]["per_condition"], "rain", 31.5), DISAGREES.format("rain", 30.0, 31.5)),
    (lambda d: d["summary"].pop("mean"), "summary mean None is not the mean of the conditions"),
    (lambda d: _set(d["summary"], "mean", 12.5), "summary mean 12.5 is not the mean of the conditions"),
    (lambda d: _set(d["summary"], "mean_ci", [44.0, 43.0]),
     "mean_ci is [44.0, 43.0], not an interval [low, high]"),
    (lambda d: _set(d["summary"]["per_condition_ci"], "night", [61.0, 60.0]),
     "night is [61.0, 60.0], not an interval [low, high]"),
])
def test_refusals_are_one_whole_line(tmp_path, edit, line):
    conditions = _conditions(7)
    for name, value in zip(ACDC_CONDITIONS, (50.0, 70.0, 30.0, 10.0), strict=True):
        conditions[name]["stats"].update(mIoU=value, IoU={"road": value + 5, "car": value - 5})
    intervals = {"per_domain": {"night": [60.0, 75.0]}, "mean": [35.0, 45.0], **SETTINGS}
    doc = json.loads(json.dumps(_build(conditions, intervals).doc))
    edit(doc)
    with pytest.raises(ResultsError) as error:
        _load(tmp_path, doc)
    assert str(error.value) == f"{tmp_path / 'acdc.json'}: {line}"
