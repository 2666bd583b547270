"""Runs of one model name are one row only when nothing that changes a number differs between them.

OOD results of one model spread over several ``ood.json`` files merge dataset by dataset; runs whose
preprocessing, checkpoint, weights (a seeded random init) or AMP differ are refused with the difference
named, as are detection runs of one name under another protocol.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fan_det.report import ReportInputError, load_inputs
from fan_det.report.__main__ import main

FIXTURES = Path(__file__).parents[1] / "report" / "fixtures"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def write(path: Path, doc: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


def split_runs(tmp_path: Path, change) -> tuple[Path, Path]:
    """The same model's ImageNet-A run and its ImageNet-R run; ``change`` alters the second run only."""
    doc = fixture("ood_effnet.json")
    first = {**doc, "datasets": {"imagenet-a": doc["datasets"]["imagenet-a"]}}
    second = json.loads(json.dumps({**doc, "datasets": {"imagenet-r": doc["datasets"]["imagenet-r"]}}))
    change(second)
    return write(tmp_path / "a" / "ood.json", first), write(tmp_path / "r" / "ood.json", second)


DIFFERENCES = {
    "image size": (lambda d: d["preprocessing"].update(input_size=[3, 384, 384]), "preprocessing.input_size"),
    "crop": (lambda d: d["preprocessing"].update(crop_pct=1.0), "preprocessing.crop_pct"),
    "interpolation": (lambda d: d["preprocessing"].update(interpolation="bilinear"),
                      "preprocessing.interpolation"),
    "checkpoint": (lambda d: d["model"].update(checkpoint_sha256="0" * 64), "model.checkpoint_sha256"),
    "seeded random init": (lambda d: d["model"].update(weights_sha256="1" * 64), "model.weights_sha256"),
    "AMP": (lambda d: d["evaluation"].update(amp=True), "evaluation.amp"),
}


@pytest.mark.parametrize("case", list(DIFFERENCES))
def test_ood_runs_of_one_name_with_other_settings_are_refused_naming_the_difference(tmp_path, case, capsys):
    change, key = DIFFERENCES[case]
    a, r = split_runs(tmp_path, change)
    with pytest.raises(ReportInputError, match=rf"efficientnet_lite0.*other settings \({key}: "):
        load_inputs([], [a, r])
    assert main(["--ood", str(a), str(r), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and key in err and "--name" in err
    assert not (tmp_path / "out" / "report.json").exists()


def test_ood_runs_of_one_name_and_one_setting_merge_into_one_row(tmp_path):
    a, r = split_runs(tmp_path, lambda d: d["provenance"].update(date="2030-01-01", command="other"))
    (merged,) = load_inputs([], [a, r])["ood"]
    assert sorted(merged.doc["datasets"]) == ["imagenet-a", "imagenet-r"]


def test_a_moved_checkpoint_with_the_same_hash_is_the_same_model(tmp_path):
    a, r = split_runs(tmp_path, lambda d: d["model"].update(checkpoint="/elsewhere/efficientnet_lite0.pth"))
    assert len(load_inputs([], [a, r])["ood"]) == 1


def test_detection_runs_of_one_name_under_another_protocol_are_refused_naming_it(tmp_path):
    other = fixture("det_fan.json")
    other["protocol"]["seed"] = 4
    with pytest.raises(ReportInputError, match=r"other settings \(protocol.seed: 3 vs 4\)"):
        load_inputs([FIXTURES / "det_fan.json", write(tmp_path / "robustness.json", other)], [])
