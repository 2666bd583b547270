"""The merge rules of report inputs, each refusal's wording: numbers are not settings, a path without a
recorded hash is a setting, and every differing setting is named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from report_fixtures import coco_o_file

from fan_det.report import ReportInputError, load_inputs

FIXTURES = Path(__file__).parent / "fixtures"


def det_run(tmp_path: Path, folder: str, change) -> Path:
    doc = json.loads((FIXTURES / "det_fan.json").read_text())
    change(doc)
    path = tmp_path / folder / "robustness.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(doc))
    return path


def test_coco_o_runs_that_differ_in_a_domain_are_refused_as_other_numbers_not_settings(tmp_path):
    first = coco_o_file(tmp_path / "a", "fan", "fan_tiny", [31.5, 20.25, 18.0, 12.75, 25.5, 14.0])
    second = coco_o_file(tmp_path / "b", "fan", "fan_tiny", [31.5, 20.25, 18.0, 12.75, 25.5, 9.0])
    with pytest.raises(ReportInputError, match=r"^COCO-O model 'fan' appears twice with different numbers"):
        load_inputs(coco_o=[first, second])


def test_a_config_path_without_its_hash_is_a_setting(tmp_path):
    def other_config(doc):
        del doc["model"]["config_sha256"]
        doc["model"]["config"] = "configs/other.yaml"

    def no_hash(doc):
        del doc["model"]["config_sha256"]

    with pytest.raises(ReportInputError, match=r'other settings \(model.config: "configs/other.yaml" vs '
                                               r'"configs/tiny/fan_tiny_8_p4_hybrid.yaml"\)'):
        load_inputs([det_run(tmp_path, "a", other_config), det_run(tmp_path, "b", no_hash)])


def test_every_differing_setting_is_named_joined_by_semicolons(tmp_path):
    def two_settings(doc):
        doc["protocol"]["seed"] = 4
        doc["model"]["random_init"] = True

    with pytest.raises(ReportInputError, match=r"other settings \(model.random_init: false vs true; "
                                               r"protocol.seed: 3 vs 4\)"):
        load_inputs([FIXTURES / "det_fan.json", det_run(tmp_path, "a", two_settings)])


def test_a_file_no_reader_accepts_is_refused_without_suggesting_another_flag(tmp_path):
    path = tmp_path / "robustness.json"
    path.write_text(json.dumps({"schema": "someone.else/1"}))
    with pytest.raises(ReportInputError) as info:
        load_inputs([path])
    assert str(info.value).startswith(str(path)) and "pass it with" not in str(info.value)
