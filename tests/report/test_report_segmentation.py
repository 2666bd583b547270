"""The segmentation and ACDC sections in real headless Chromium: tables in the paper's column order hold
the documents' numbers, the heat map and severity plot decode, the headline joins the backbone's row."""

from __future__ import annotations

import json

import numpy as np
import pytest
from report_browser import inspect_page
from report_fixtures import FIXTURES

from fan_det.protocol import ACDC_CONDITIONS, CITY_C_FAMILIES, PROTOCOLS
from fan_det.report import write_report
from fan_det.results import AcdcResult, SegmentationResult

CLASSES = ["road", "car", "sky"]
MODEL = {"name": "fan_tiny_8_p4_hybrid segformer", "backbone": "fan_tiny_8_p4_hybrid", "random_init": False}
PAGE_STATE = """JSON.stringify({
  images: [...document.images].map(i => ({id: i.id, complete: i.complete, w: i.naturalWidth})),
  tables: Object.fromEntries([...document.querySelectorAll('table[id]')].map(t => [t.id, {
      head: [...t.tHead.rows[0].cells].map(c => c.textContent),
      rows: [...t.tBodies[0].rows].map(r => [...r.cells].map(c => c.textContent))}])),
})"""


def _stats(rng) -> dict:
    iou = {name: float(rng.uniform(20, 90)) for name in CLASSES}
    return {"mIoU": float(np.mean(list(iou.values()))), "IoU": iou, "excluded": []}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("seg_report")
    rng = np.random.default_rng(7)
    cells = [{"corruption": c, "severity": s, "num_images": 4, "seconds": 1.0, "stats": _stats(rng)}
             for c, s in [("clean", 0), *PROTOCOLS["fan-city-c"].cells]]
    seg = SegmentationResult.build(
        model=MODEL, dataset={"name": "fan_synth_seg_val", "num_images": 4, "classes": CLASSES},
        protocol={"name": "fan-city-c", "seed": 0, "mode": "on-the-fly"}, cells=cells, allow_partial=False,
        provenance={}, intervals={"P": [40.0, 60.0], "mPC": [30.0, 50.0], "rPC": [60.0, 90.0],
                                  "method": "percentile bootstrap over images", "resamples": 9, "seed": 0,
                                  "level": 0.95})
    seg_path = seg.dump(out / "in" / "segmentation.json")
    acdc = AcdcResult.build(model=MODEL, dataset={"name": "tiny ACDC", "classes": CLASSES},
                            conditions={c: {"num_images": 4, "seconds": 1.0, "stats": _stats(rng)}
                                        for c in ACDC_CONDITIONS}, provenance={})
    acdc_path = acdc.dump(out / "in" / "acdc.json")
    paths = write_report([FIXTURES / "det_fan.json"], [], out / "report", command="pytest",
                         segmentation=[seg_path], acdc=[acdc_path])
    return paths, seg.doc, acdc.doc


def test_segmentation_sections_in_chromium(report):
    paths, seg, acdc = report
    result = inspect_page(paths["html"], PAGE_STATE)
    assert result.errors == []
    state = json.loads(result.value)
    images = {i["id"]: i for i in state["images"]}
    for figure in ("seg-heatmap-fan-city-c", "seg-severity-fan-city-c"):
        assert images[figure]["complete"] and images[figure]["w"] > 0
    tables = state["tables"]
    block = seg["summary"]["stats"]["mIoU"]
    (row,) = tables["seg-fan-city-c-retention"]["rows"]
    assert row[1:] == [f"{block[k]:.2f} [{block[k + '_ci'][0]:.2f}, {block[k + '_ci'][1]:.2f}]"
                       for k in ("P", "mPC", "rPC")]
    paper = [c for names in CITY_C_FAMILIES.values() for c in names]
    per_corruption = tables["seg-fan-city-c-per-corruption"]
    assert per_corruption["head"][1:17] == paper  # the paper's 16 columns first, in its order
    assert per_corruption["head"][17:] == ["zoom_blur", "elastic_transform", "pixelate"]
    assert per_corruption["rows"][0][1] == f"{block['per_corruption']['motion_blur']:.2f}"
    headline = tables["headline"]
    seg_columns = [i for i, h in enumerate(headline["head"]) if h.startswith(("seg ", "ACDC"))]
    assert [headline["head"][i] for i in seg_columns] == [
        "seg clean mIoU", "seg mIoU under corruption (fan-city-c)", "seg retention % (fan-city-c)",
        "ACDC mean mIoU"]
    (fan_row,) = [r for r in headline["rows"] if r[0].startswith("fan_tiny_8_p4_hybrid")]
    assert fan_row[seg_columns[0]].startswith(f"{block['P']:.2f}")
    assert fan_row[seg_columns[3]] == f"{acdc['summary']['mean']:.2f}"
    (acdc_row,) = tables["acdc-mIoU"]["rows"]
    assert acdc_row[1:] == [f"{acdc['summary']['mean']:.2f}"] + [
        f"{acdc['summary']['per_condition'][c]:.2f}" for c in ACDC_CONDITIONS]
