"""The section registry drives the report: its flags, blocks, layout and headline columns come from the
registered sections, so a section is added (or removed) by one registration line."""

from __future__ import annotations

import dataclasses
import json

from report_fixtures import FIXTURES, coco_o_file, md_tables

from fan_det.report import registry
from fan_det.report.__main__ import build_parser, main
from fan_det.report.sections import coco_o
from fan_det.report.sections.base import HeadlineColumn
from fan_det.report.tables import column

AGAIN = dataclasses.replace(
    coco_o.SECTION, key="coco_o_again", flag="--coco-o-again",
    headline_title="COCO-O again",
    layout=lambda report, _: [("COCO-O once more", [("tables", report["coco_o_again"]["tables"])])],
    headline=lambda _: [HeadlineColumn(column("again/AP", "again mean AP"),
                                       lambda m, _: (m["summary"]["stats"]["AP"]["mean"], None))],
)


def headline(out) -> dict:
    report = json.loads((out / "report.json").read_text())
    return report["headline"]


def test_removing_coco_o_from_the_registry_removes_its_flag_block_and_headline_column(monkeypatch, tmp_path):
    assert "--coco-o" in build_parser()._option_string_actions
    assert main(["--ood", str(FIXTURES / "ood_effnet.json"), "--out", str(tmp_path / "with")]) == 0
    assert "COCO-O mean AP" in [c["label"] for c in headline(tmp_path / "with")["columns"]]
    monkeypatch.setattr(registry, "SECTIONS", tuple(s for s in registry.SECTIONS if s.key != "coco_o"))
    assert "--coco-o" not in build_parser()._option_string_actions
    assert main(["--ood", str(FIXTURES / "ood_effnet.json"), "--out", str(tmp_path / "without")]) == 0
    report = json.loads((tmp_path / "without" / "report.json").read_text())
    assert "coco_o" not in report
    assert "COCO-O mean AP" not in [c["label"] for c in report["headline"]["columns"]]
    assert report["headline"]["title"].endswith("(ER, points above timm's line), COCO-C, Cityscapes-C mIoU "
                                                "and ACDC mIoU")


def test_a_registered_section_gets_its_flag_block_layout_and_headline_column(monkeypatch, tmp_path):
    monkeypatch.setattr(registry, "SECTIONS", (*registry.SECTIONS, AGAIN))
    aps = [12.0, 18.0, 30.0, 6.0, 24.0, 36.0]
    result = coco_o_file(tmp_path, "det again", "resnet50", aps)
    out = tmp_path / "out"
    assert main(["--coco-o-again", str(result), "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert [m["name"] for m in report["coco_o_again"]["models"]] == ["det again"]
    assert report["coco_o"]["models"] == []
    table = md_tables((out / "report.md").read_text())[report["headline"]["title"]]
    assert table["resnet50: det again"]["again mean AP"] == f"{sum(aps) / len(aps):.2f}"
    assert report["headline"]["title"].endswith("COCO-O box AP, Cityscapes-C mIoU, ACDC mIoU and "
                                                "COCO-O again")
    assert "## COCO-O once more" in (out / "report.md").read_text()
    assert [e["kind"] for e in report["provenance"]["inputs"]] == ["coco_o"]
