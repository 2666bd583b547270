"""Cell planning, the resumable cell cache and robustness.json: each keyed, atomic and refused when wrong."""

import json

import numpy as np
import pytest

from fan_det.protocol import Cell, plan_cells
from fan_det.results import ResultsError, RobustnessResult, flatten_stats
from fan_det.robustness.inference import check_image_ids
from fan_det.robustness.task import DETECTIONS
from fan_det.runtime.grid import CellCache

KEY = {"weights_sha256": "a" * 64, "config_sha256": "b" * 64, "dataset": {"name": "d", "sha256": "c"},
       "imagecorruptions_version": "1.1.5", "seed": 0, "mode": "on-the-fly", "coco_c_root": None}


def _detections(rng, n=7):
    return [{"image_id": int(rng.integers(1, 5)), "category_id": int(rng.integers(1, 5)),
             "bbox": rng.uniform(1, 50, 4).round(3).tolist(), "score": float(rng.uniform())}
            for _ in range(n)]


def test_plan_puts_clean_first_then_corruption_major():
    cells = plan_cells(["fog", "snow"], [1, 3])
    assert cells == [Cell("clean", 0), Cell("fog", 1), Cell("fog", 3), Cell("snow", 1), Cell("snow", 3)]
    assert cells[0].is_clean and not cells[1].is_clean and cells[2].name == "fog-3"


def test_cache_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    cache = CellCache(tmp_path, KEY, DETECTIONS)
    dets = _detections(rng)
    assert cache.load_cell(Cell("fog", 2).name) is None
    record = {"stats": {"bbox": {"AP": 12.5}}, "num_images": 4, "seconds": 1.0}
    stored = cache.save_cell(Cell("fog", 2).name, record, dets)
    again = CellCache(tmp_path, KEY, DETECTIONS)  # a later run with the same key finds it
    assert again.load_cell(Cell("fog", 2).name) == stored
    assert again.load_cell(Cell("fog", 2).name)["stats"] == {"bbox": {"AP": 12.5}}
    assert again.load_payload(Cell("fog", 2).name) == dets
    assert again.load_cell(Cell("fog", 1).name) is None
    assert json.loads((cache.dir / "key.json").read_text()) == KEY
    assert not list(cache.dir.glob("*.tmp")) and not list(cache.dir.glob(".*"))


@pytest.mark.parametrize("part", ["weights_sha256", "config_sha256", "dataset", "imagecorruptions_version",
                                  "seed", "mode"])
def test_every_key_part_separates_runs(tmp_path, part):
    cache = CellCache(tmp_path, KEY, DETECTIONS)
    cache.save_cell(Cell("clean", 0).name, {"stats": {}, "num_images": 1, "seconds": 0.1}, [])
    changed = dict(KEY, **{part: {"other": 1} if part == "dataset" else "x"})
    other = CellCache(tmp_path, changed, DETECTIONS)
    assert other.key != cache.key
    assert other.load_cell(Cell("clean", 0).name) is None


def test_record_under_another_key_is_not_trusted(tmp_path):
    cache = CellCache(tmp_path, KEY, DETECTIONS)
    record = cache.save_cell(Cell("snow", 1).name, {"stats": {}, "num_images": 1, "seconds": 0.1}, [])
    cache.path(cache.record_name(Cell("snow", 1).name)).write_text(json.dumps(dict(record, key="0" * 16)))
    assert cache.load_cell(Cell("snow", 1).name) is None


@pytest.mark.parametrize("damage", ["truncate record", "truncate detections", "delete detections"])
def test_a_damaged_cell_is_recomputed_with_a_warning(tmp_path, capsys, damage):
    cache = CellCache(tmp_path, KEY, DETECTIONS)
    cell = Cell("fog", 4)
    cache.save_cell(cell.name, {"stats": {"bbox": {"AP": 3.0}}, "num_images": 4, "seconds": 0.1},
                    _detections(np.random.default_rng(2), 50))
    target = cache.path(cache.record_name(cell.name) if "record" in damage else cache.payload_name(cell.name))
    if damage.startswith("truncate"):
        target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    else:
        target.unlink()
    assert CellCache(tmp_path, KEY, DETECTIONS).load_cell(cell.name) is None
    assert f"warning: cache entry {target}" in capsys.readouterr().err


def test_log_records_each_event(tmp_path):
    cache = CellCache(tmp_path, KEY, DETECTIONS)
    cache.log("reused", Cell("clean", 0))
    cache.log("evaluated", Cell("fog", 3))
    assert [(e["event"], e["entry"]) for e in cache.read_log()] == [("reused", ["clean", 0]),
                                                                   ("evaluated", ["fog", 3])]


def test_image_count_check():
    check_image_ids([3, 1, 2], [1, 2, 3])
    with pytest.raises(RuntimeError, match="duplicates \\[2\\]"):
        check_image_ids([1, 2, 2, 3], [1, 2, 3])  # what sampler padding would produce
    with pytest.raises(RuntimeError, match="missing \\[3\\]"):
        check_image_ids([1, 2], [1, 2, 3])
    with pytest.raises(RuntimeError, match="unknown \\[9\\]"):
        check_image_ids([1, 2, 9], [1, 2, 3])


def test_flatten_stats_names_mask_stats():
    stats = {"bbox": {"AP": 1.5, "AP50": 3.0}, "segm": {"AP": 1.0, "AP50": 2.5}}
    assert flatten_stats(stats) == {"AP": 1.5, "AP50": 3.0, "segm/AP": 1.0, "segm/AP50": 2.5}


def _document(allow_partial=True):
    rng = np.random.default_rng(5)
    cells = [{"corruption": c, "severity": s, "num_images": 4, "seconds": 0.5, "key": "k",
              "stats": {"bbox": {"AP": float(rng.uniform(5, 50))}}}
             for c, s in [("clean", 0), ("fog", 1), ("fog", 2)]]
    return RobustnessResult.build(model={"name": "m"}, dataset={"name": "d", "num_images": 4},
                                  protocol={"seed": 0}, cells=cells, allow_partial=allow_partial,
                                  provenance={"command": "x"}).doc, cells


def test_document_round_trip_and_contents(tmp_path):
    document, cells = _document()
    RobustnessResult(document).dump(tmp_path / "robustness.json")
    loaded = RobustnessResult.load(tmp_path / "robustness.json").doc
    assert loaded["schema"] == RobustnessResult.schema() == "fan_det.robustness/1"
    assert loaded["scale"] == "0-100"
    assert loaded["cells"][1] == {k: cells[1][k] for k in ("corruption", "severity", "num_images", "seconds",
                                                           "stats")}
    fog = [c["stats"]["bbox"]["AP"] for c in cells[1:]]
    assert loaded["summary"]["partial"] is True
    assert loaded["summary"]["stats"]["AP"]["mPC"] == pytest.approx(np.mean(fog))
    assert loaded["summary"]["stats"]["AP"]["P"] == pytest.approx(cells[0]["stats"]["bbox"]["AP"])


def test_document_refuses_incomplete_grid_unless_partial():
    with pytest.raises(ValueError, match="fog/3"):
        _document(allow_partial=False)


@pytest.mark.parametrize("schema, reason", [("fan_det.robustness/2", "unknown schema version"),
                                            ("fan_det.ood/1", "expected fan_det.robustness/1"),
                                            (None, "no fan_det schema")])
def test_loader_refuses_other_schemas(tmp_path, schema, reason):
    document, _ = _document()
    document["schema"] = schema
    (tmp_path / "r.json").write_text(json.dumps(document))
    with pytest.raises(ResultsError, match=reason):
        RobustnessResult.load(tmp_path / "r.json")


def test_loader_refuses_missing_parts(tmp_path):
    document, _ = _document()
    del document["summary"]
    (tmp_path / "r.json").write_text(json.dumps(document))
    with pytest.raises(ResultsError, match="summary"):
        RobustnessResult.load(tmp_path / "r.json")
