"""Self-checks on malformed cells, each refused in one line (no traceback): a cell that is no object, stats
empty or of another type, a null stat, cells that cannot be summarised together; and a class named like the
names list ``excluded`` is scored like any other class."""

from __future__ import annotations

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


def test_a_class_named_excluded_is_scored_like_any_other():
    iou = {"road": 80.5, "excluded": 20.25}
    cells = [{"corruption": c, "severity": s, "num_images": 1, "seconds": 0.1,
              "stats": {"mIoU": 50.375, "IoU": iou, "excluded": []}} for c, s in (("clean", 0), ("fog", 1))]
    dataset = {"name": "city", "classes": ["road", "excluded"]}
    doc = SegmentationResult.build(model={"name": "m"}, dataset=dataset, protocol={"name": "city-c-16"},
                                   cells=cells, allow_partial=True, provenance={})
    doc.validate()
    assert doc.cells[1]["stats"]["IoU"]["excluded"] == 20.25
