"""The report's protocol facts and eval/ load as the report expects: corruptions in order, reference tables
with sources and protocols."""

from __future__ import annotations

from report_fixtures import load_fixture

from fan_det import protocol
from fan_det.report.references import load_references
from fan_det.report.sections.classification import reference_value as ood_value
from fan_det.report.sections.detection import reference_value as det_value


def our_value(key: str, det: dict | None, ood: dict | None) -> float | None:
    """The section's lookup of whichever result is given (the detection section's for detection keys)."""
    return det_value(key, det) if det is not None else ood_value(key, ood)

BENCHMARK = ("gaussian_noise shot_noise impulse_noise defocus_blur glass_blur motion_blur zoom_blur snow "
             "frost fog brightness contrast elastic_transform pixelate jpeg_compression").split()


def test_protocols_list_the_benchmark_and_holdout_corruptions():
    assert list(protocol.BENCHMARK) == BENCHMARK
    assert [c for family in protocol.FAMILIES.values() for c in family] == BENCHMARK
    assert list(protocol.HOLDOUT) == ["speckle_noise", "gaussian_blur", "spatter", "saturate"]
    assert list(protocol.SEVERITIES) == [1, 2, 3, 4, 5]


def test_reference_tables_carry_source_protocol_and_the_published_numbers():
    tables = {t.name: t for t in load_references()}
    for t in tables.values():
        assert t.source and t.protocol and t.rows
        for r in t.rows:
            assert set(r) - {"model", "timm_name"} <= set(t.metrics), (t.name, r)
    fan_coco = tables["FAN Hybrid variants, COCO / COCO-C detection"]
    coco = {r["model"]: r for r in fan_coco.rows}
    assert (coco["FAN-T-Hybrid"]["detection/P"], coco["FAN-T-Hybrid"]["detection/mPC"]) == (50.2, 33.1)
    assert "16 corruptions on pre-generated JPEG" in fan_coco.protocol
    retina = {r["model"]: r for r in tables["COCO-C detection baselines"].rows}["RetinaNet R50"]
    assert (retina["detection/P"], retina["detection/mPC"], retina["detection/rPC"]) == (35.6, 17.8, 50.1)


def test_reference_keys_map_to_our_numbers():
    ood = load_fixture("ood_fan.json")
    det = load_fixture("det_fan.json")
    metrics_c = ood["datasets"]["imagenet-c"]["metrics"]
    assert our_value("imagenet-c/mean_acc", None, ood) == metrics_c["mean_acc_15"]
    assert our_value("imagenet/error", None, ood) == 100.0 - ood["datasets"]["imagenet"]["metrics"]["top1"]
    assert our_value("imagenet-a/top1", None, ood) == ood["datasets"]["imagenet-a"]["metrics"]["top1"]
    assert our_value("detection/mPC", det, None) == det["summary"]["stats"]["AP"]["mPC"]
    assert our_value("cityscapes/miou", None, ood) is None
