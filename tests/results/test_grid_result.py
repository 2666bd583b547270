"""The corruption-grid document is task-general: a kind with another headline stat (mIoU, as a
segmentation grid will have) summarises, validates and round-trips with no detection name in it."""

import numpy as np
import pytest

from fan_det.protocol import BENCHMARK, SEVERITIES
from fan_det.results import CorruptionGridResult, ResultsError


class SegmentationGrid(CorruptionGridResult):
    KIND = "test_segmentation_grid"
    MAJOR = 1
    FILE_NAME = "grid.json"
    WRITER = "a test"
    HEADLINE = "mIoU"
    HEADLINE_LABEL = "mIoU"


def _cells(rng):
    cells = [{"corruption": "clean", "severity": 0, "num_images": 5, "seconds": 1.0,
              "stats": {"mIoU": float(rng.uniform(50, 80))}}]
    cells += [{"corruption": c, "severity": s, "num_images": 5, "seconds": 1.0,
               "stats": {"mIoU": float(rng.uniform(10, 50))}} for c in BENCHMARK for s in SEVERITIES]
    return cells


def _build(cells):
    return SegmentationGrid.build(model={"name": "m"}, dataset={"name": "d"}, protocol={}, cells=cells,
                                  allow_partial=False, provenance={}, intervals={"P": [40.0, 90.0]})


def test_a_miou_grid_summarises_its_headline_and_round_trips(tmp_path):
    cells = _cells(np.random.default_rng(3))
    result = _build(cells)
    clean = cells[0]["stats"]["mIoU"]
    per_corruption = [np.mean([c["stats"]["mIoU"] for c in cells if c["corruption"] == name])
                      for name in BENCHMARK]
    assert result.stat()["P"] == pytest.approx(clean)
    assert result.stat()["mPC"] == pytest.approx(np.mean(per_corruption))
    assert result.stat()["rPC"] == pytest.approx(100 * np.mean(per_corruption) / clean)
    assert result.stat()["P_ci"] == [40.0, 90.0]
    loaded = SegmentationGrid.load(result.dump(tmp_path / "grid.json"))
    assert loaded.stat("mIoU") == result.stat()


def test_the_checks_name_the_kinds_headline():
    result = _build(_cells(np.random.default_rng(4)))
    result.summary["stats"]["mIoU"]["P"] += 1.0
    with pytest.raises(ResultsError, match="clean cell's mIoU"):
        result.validate()
    del result.summary["stats"]["mIoU"]
    with pytest.raises(ResultsError, match="no 'mIoU'"):
        result.validate()
