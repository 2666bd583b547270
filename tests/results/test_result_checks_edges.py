"""Self-checks on malformed cells, each refused in one line (no traceback): a cell that is no object, stats
empty or of another type, a null stat, cells that cannot be summarised together; and a class named like the
names list ``excluded`` is scored like any other class."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fan_det.results import ResultsError, RobustnessResult, SegmentationResult

RERUN = "rerun python -m fan_det.eval_coco_c"


def _grid() -> RobustnessResult:
    rng = np.random.default_rng(5)
    cells = [{"corruption": c, "severity": s, "num_images": 2, "seconds": 0.1,
              "stats": {"bbox": {"AP": float(rng.uniform(5, 35))}}}
             for c, s in (("clean", 0), ("fog", 1), ("snow", 3))]
    return RobustnessResult.build(model={"name": "m"}, dataset={"name": "d"}, protocol={}, cells=cells,
                                  allow_partial=True, provenance={})


def _refusal(edit) -> str:
    doc = _grid()
    edit(doc.doc["cells"])
    with pytest.raises(ResultsError) as info:
        doc.validate()
    return str(info.value).removeprefix("<robustness.json>: ")


def test_a_cell_that_is_no_object_is_named():
    assert _refusal(lambda cells: cells.append("fog")) == "cell 'fog' has no corruption name and severity"


@pytest.mark.parametrize("stats", [{}, [1.0], "AP"])
def test_empty_or_mistyped_stats_are_refused(stats):
    line = _refusal(lambda cells: cells[1].update(stats=stats))
    assert line == f"cell fog severity 1 has no stats; {RERUN}"


def test_a_null_stat_is_named_with_its_cell():
    assert _refusal(lambda cells: cells[2]["stats"]["bbox"].update(AP=None)) == (
        "cell snow severity 3 bbox.AP is None; absent figures must be left out")


def test_cells_with_different_stats_cannot_be_summarised():
    assert _refusal(lambda cells: cells[1]["stats"]["bbox"].update(AP50=3.0)) == (
        "its cells cannot be summarised (cell fog/1 has stats ['AP', 'AP50'], others ['AP']); " + RERUN)


def _segmentation(classes: list[str], stats: dict) -> SegmentationResult:
    cells = [{"corruption": c, "severity": s, "num_images": 1, "seconds": 0.1, "stats": json_copy(stats)}
             for c, s in (("clean", 0), ("fog", 1))]
    return SegmentationResult.build(model={"name": "m"}, dataset={"name": "city", "classes": classes},
                                    protocol={"name": "city-c-16"}, cells=cells, allow_partial=True,
                                    provenance={})


def json_copy(obj: dict) -> dict:
    return json.loads(json.dumps(obj))


def test_a_class_named_excluded_is_scored_like_any_other():
    doc = _segmentation(["road", "excluded"], {"mIoU": 50.375, "IoU": {"road": 80.5, "excluded": 20.25},
                                               "excluded": []})
    doc.validate()
    assert doc.cells[1]["stats"]["IoU"]["excluded"] == 20.25


def _segmentation_refusal(stats: dict) -> str:
    doc = _segmentation(["road", "car", "sky"], {"mIoU": 50.375, "IoU": {"road": 80.5, "car": 20.25},
                                                 "excluded": ["sky"]})
    doc.doc["cells"][1]["stats"] = stats
    with pytest.raises(ResultsError) as info:
        doc.validate()
    return str(info.value).removeprefix("<segmentation.json>: cell fog severity 1 ")


@pytest.mark.parametrize("names", ["sky", [3], ["sky", None]])
def test_an_excluded_list_of_anything_but_names_is_refused(names):
    stats = {"mIoU": 50.375, "IoU": {"road": 80.5, "car": 20.25}, "excluded": names}
    assert _segmentation_refusal(stats) == (
        f"excluded is {names!r}, not a list of names; rerun python -m fan_det.eval_city_c")


def test_a_null_class_iou_is_one_line_even_after_the_names_list():
    stats = {"excluded": ["sky"], "mIoU": 50.375, "IoU": {"road": 80.5, "car": None}}
    assert _segmentation_refusal(stats) == "IoU.car is None; absent figures must be left out"
