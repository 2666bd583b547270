"""report.html in real headless Chromium: loads cleanly, every plot decodes, tables hold the numbers."""

from __future__ import annotations

import json
import struct

from report_browser import inspect_page
from report_fixtures import load_fixture

PAGE_STATE = """JSON.stringify({
  images: [...document.images].map(i => ({id: i.id, complete: i.complete, w: i.naturalWidth,
                                          h: i.naturalHeight, src: i.src.slice(0, 22)})),
  tables: Object.fromEntries([...document.querySelectorAll('table[id]')].map(t => [t.id,
      [...t.tBodies[0].rows].map(r => [...r.cells].map(
          c => [c.textContent, c.classList.contains('best')]))])),
  external: [...document.querySelectorAll('[src],[href]')]
            .map(e => e.getAttribute('src') || e.getAttribute('href'))
            .filter(u => !u.startsWith('data:')),
})"""


def shown(value: float, interval: list | None) -> str:
    """A table cell as the report promises it: the value, then its 95% interval where the input has one."""
    return f"{value:.2f}" + (f" [{interval[0]:.2f}, {interval[1]:.2f}]" if interval else "")


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_report_html_in_chromium(built_report):
    result = inspect_page(built_report["html"], PAGE_STATE)
    assert result.errors == []
    state = json.loads(result.value)
    assert state["external"] == []
    figures = sorted((built_report["md"].parent / "figures").glob("*.png"))
    expected = {"det-heatmap", "det-severity", "ood-bars", "er-imagenet-r", "er-imagenet-sketch",
                "er-imagenet-v2"}
    assert {i["id"] for i in state["images"]} == {f.stem for f in figures} == expected
    for image in state["images"]:
        assert image["complete"] and image["w"] > 0 and image["h"] > 0
        assert image["src"] == "data:image/png;base64,"
        png = built_report["md"].parent / "figures" / f"{image['id']}.png"
        assert (image["w"], image["h"]) == png_size(png.read_bytes())

    tables = state["tables"]
    by_label = {row[0][0]: row[1:] for row in tables["det-AP-retention"]}
    for name in ("det_fan.json", "det_baseline.json"):
        doc = load_fixture(name)
        ap = doc["summary"]["stats"]["AP"]
        assert [c[0] for c in by_label[doc["model"]["name"]]] == [f"{ap[k]:.2f}" for k in ("P", "mPC", "rPC")]
    best_p = max(
        load_fixture(n)["summary"]["stats"]["AP"]["P"]
        for n in ("det_fan.json", "det_baseline.json"))
    assert [c[0] for row in tables["det-AP-retention"] for c in row[1:2] if c[1]] == [f"{best_p:.2f}"]
    effnet = load_fixture("ood_effnet.json")["datasets"]["imagenet-a"]["metrics"]
    row = {r[0][0]: r[1:] for r in tables["ood-imagenet-a"]}["efficientnet_lite0"]
    assert [c[0] for c in row[:6]] == [shown(effnet[k], effnet.get(f"{k}_ci")) for k in
                                       ("top1", "top5", "top1_unmasked", "top5_unmasked", "calibration_error",
                                        "aurra")]
    assert "[" in row[0][0] and "[" not in row[4][0]  # top-1 has its interval, calibration error none
    metrics = load_fixture("ood_fan.json")["datasets"]["imagenet-c"]["metrics"]
    cells, intervals = metrics["per_cell"], metrics["per_cell_ci"]
    grid = {r[0][0]: [c[0] for c in r[1:]] for r in tables["ood-imagenet-c-cells-fan_tiny_8_p4_hybrid"]}
    assert grid["fog"] == [shown(cells[f"fog/{s}"], intervals[f"fog/{s}"]) for s in range(1, 6)]


def test_the_browser_check_sees_errors_and_broken_images(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><head><link rel="icon" href="data:,"></head><body>'
                    '<img id="x" src="data:image/png;base64,iVBORw0KGgo="><script>console.error("boom");'
                    "undefinedFunction();</script></body></html>")
    result = inspect_page(page, PAGE_STATE)
    assert len(result.errors) == 2
    assert "boom" in result.errors[0] and "undefinedFunction" in result.errors[1]
    assert json.loads(result.value)["images"][0]["w"] == 0
