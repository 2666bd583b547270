"""Inconsistent inputs are refused with a message that names the problem; identical duplicates merge."""

from __future__ import annotations

import json

import pytest
from report_fixtures import FIXTURES, load_fixture

from fan_det.report import ReportInputError, load_inputs
from fan_det.report.__main__ import main


def write(tmp_path, name: str, doc: dict):
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def with_changes(name: str, change) -> dict:
    doc = load_fixture(name)
    change(doc)
    return doc


def _other_ap50(doc):  # the same model, other numbers, still consistent in itself
    doc["cells"][0]["stats"]["bbox"]["AP50"] += 1.0
    doc["summary"]["stats"]["AP50"]["P"] += 1.0


CASES = {
    "unknown schema version": (
        "robustness", lambda d: d.update(schema="fan_det.robustness/2"), "unknown schema version"),
    "ood file given as detection": (
        "robustness", lambda d: d.update(load_fixture("ood_fan.json")), "pass it with --ood"),
    "other scale": ("robustness", lambda d: d.update(scale="0-1"), "scale '0-1'"),
    "summary P disagrees with clean cell": (
        "robustness", lambda d: d["summary"]["stats"]["AP"].update(P=d["summary"]["stats"]["AP"]["P"] + 3),
        "disagrees with the clean cell"),
    "per-corruption summary disagrees with cells": (
        "robustness", lambda d: d["summary"]["stats"]["AP"]["per_corruption"].update(fog=99.0),
        "cells average"),
    "same model, other numbers": ("robustness", _other_ap50, "appears twice with different numbers"),
    "other detection dataset": (
        "robustness", lambda d: d.update(model={**d["model"], "name": "other"},
                                         dataset={"name": "fan_synth_val", "num_images": 16}),
        "different datasets"),
    "null OOD metric": ("ood", lambda d: d["datasets"]["imagenet"]["metrics"].update(top5=None),
                        "top5 is None; absent .* must be left out"),
    "OOD image counts differ": (
        "ood", lambda d: d.update(model={**d["model"], "name": "other"},
                                  datasets={"imagenet": {**d["datasets"]["imagenet"], "num_images": 19}}),
        "different image counts"),
    "same OOD model, other numbers": (
        "ood", lambda d: d["datasets"]["imagenet"]["metrics"].update(top1=50.0), "two different results"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_inconsistent_inputs_are_refused(tmp_path, case):
    kind, change, message = CASES[case]
    base = "det_fan.json" if kind == "robustness" else "ood_fan.json"
    bad = write(tmp_path, "bad.json", with_changes(base, change))
    det = [FIXTURES / "det_fan.json"] if kind == "robustness" else []
    ood = [FIXTURES / "ood_fan.json"] if kind == "ood" else []
    if case in ("unknown schema version", "ood file given as detection", "other scale",
                "summary P disagrees with clean cell", "per-corruption summary disagrees with cells"):
        det, ood = [], []
    with pytest.raises(ReportInputError, match=message):
        load_inputs(det + [bad] if kind == "robustness" else det, ood + [bad] if kind == "ood" else ood)


def test_identical_duplicates_merge_and_ood_runs_combine(tmp_path):
    copy = write(tmp_path, "copy.json", load_fixture("det_fan.json"))
    det = load_inputs([FIXTURES / "det_fan.json", copy], [])["detection"]
    assert [rf.model_name for rf in det] == ["fan_tiny_8_p4_hybrid retinanet"]
    assert det[0].notes == [f"identical result also in {copy}"]
    doc = load_fixture("ood_effnet.json")
    only_a = {**doc, "datasets": {"imagenet-a": doc["datasets"]["imagenet-a"]}}
    rest = {**doc, "datasets": {k: v for k, v in doc["datasets"].items() if k != "imagenet-a"}}
    merged = load_inputs([], [write(tmp_path, "a.json", only_a), write(tmp_path, "b.json", rest)])["ood"]
    assert len(merged) == 1
    assert merged[0].doc["datasets"] == doc["datasets"]


def test_folder_arguments_find_result_files(tmp_path):
    (tmp_path / "fan" / "coco_c").mkdir(parents=True)
    (tmp_path / "fan" / "coco_c" / "robustness.json").write_text((FIXTURES / "det_fan.json").read_text())
    (tmp_path / "effnet").mkdir()
    (tmp_path / "effnet" / "ood.json").write_text((FIXTURES / "ood_effnet.json").read_text())
    loaded = load_inputs([tmp_path], [tmp_path])
    det, ood = loaded["detection"], loaded["ood"]
    assert [rf.model_name for rf in det] == ["fan_tiny_8_p4_hybrid retinanet"]
    assert [rf.model_name for rf in ood] == ["efficientnet_lite0"]


def test_cli_reports_refusal_and_exit_code(tmp_path, capsys):
    doc = with_changes("det_fan.json", lambda d: d.update(schema="fan_det.robustness/9"))
    bad = write(tmp_path, "bad.json", doc)
    assert main(["--detection", str(bad), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "fan_det.robustness/9" in err
    assert not (tmp_path / "out" / "report.json").exists()
    assert main(["--ood", str(FIXTURES / "ood_effnet.json"), "--out", str(tmp_path / "ok")]) == 0
    assert json.loads((tmp_path / "ok" / "report.json").read_text())["detection"]["models"] == []
