"""faster-coco-eval, the default scorer, gives pycocotools' numbers: all 12 summary stats, boxes and
masks, on the tiny sets and on a synthetic 5,000-image set, within 1e-4 (0-1 scale)."""

import contextlib
import io
import json

import numpy as np
import pytest
from coco_scoring_synthetic import synthetic_coco
from detectron2.data import MetadataCatalog
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from fan_det.data.register import register_tiny_datasets
from fan_det.robustness.scoring import SCORERS, cell_stats, coco_stats, scorer_version

TOLERANCE = 1e-4


def _official(gt: dict, detections: list[dict], task: str) -> np.ndarray:
    """pycocotools as its README runs it (the reference; written here, not taken from the code)."""
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = json.loads(json.dumps(gt))
        coco_gt.createIndex()
        results = json.loads(json.dumps(detections))
        if task == "segm":
            for r in results:
                r.pop("bbox", None)
        evaluation = COCOeval(coco_gt, coco_gt.loadRes(results), task)
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return np.array(evaluation.stats)


def _tiny_detections(gt: dict, rng: np.random.Generator) -> list[dict]:
    """Jittered ground truth (some dropped), with its polygon mask as RLE, plus random false positives."""
    from pycocotools import mask as mask_utils

    sizes = {im["id"]: (im["height"], im["width"]) for im in gt["images"]}
    detections = []
    for ann in gt["annotations"]:
        if rng.uniform() < 0.2:
            continue
        h, w = sizes[ann["image_id"]]
        segmentation = ann["segmentation"]
        if isinstance(segmentation, dict) and isinstance(segmentation["counts"], str):  # compressed RLE
            rle = {"size": segmentation["size"], "counts": segmentation["counts"].encode()}
        else:
            rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, h, w))
        box = list(np.array(ann["bbox"]) + rng.normal(0, 2, 4))
        detections.append({"image_id": ann["image_id"], "category_id": ann["category_id"], "bbox": box,
                           "score": float(rng.uniform()),
                           "segmentation": {"size": rle["size"], "counts": rle["counts"].decode()}})
    for image in gt["images"]:
        for _ in range(3):
            x, y = rng.uniform(0, image["width"] - 40), rng.uniform(0, image["height"] - 40)
            box = [x, y, rng.uniform(5, 40), rng.uniform(5, 40)]
            poly = [x, y, x + box[2], y, x + box[2], y + box[3], x, y + box[3]]
            rle = mask_utils.frPyObjects([poly], image["height"], image["width"])[0]
            detections.append({"image_id": image["id"], "category_id": int(rng.choice(
                [c["id"] for c in gt["categories"]])), "bbox": box, "score": float(rng.uniform()),
                "segmentation": {"size": rle["size"], "counts": rle["counts"].decode()}})
    return detections


@pytest.mark.parametrize("dataset", ["fan_synth_val", "fan_synth_val_mini", "fan_real_photos"])
@pytest.mark.parametrize("task", ["bbox", "segm"])
def test_scorers_agree_on_the_tiny_sets(dataset, task):
    register_tiny_datasets()
    gt = json.loads(open(MetadataCatalog.get(dataset).json_file).read())
    assert all(a.get("segmentation") for a in gt["annotations"])
    detections = _tiny_detections(gt, np.random.default_rng(3))
    expected = _official(gt, detections, task)
    assert 0.05 < expected[0] < 0.95  # a non-trivial score
    for scorer in SCORERS:
        assert coco_stats(gt, detections, task, scorer) == pytest.approx(expected, abs=TOLERANCE), scorer


@pytest.fixture(scope="module")
def five_thousand():
    return synthetic_coco(5000, seed=11)


@pytest.mark.parametrize("task", ["bbox", "segm"])
def test_scorers_agree_on_5000_images_with_random_detections(five_thousand, task):
    gt, detections = five_thousand
    expected = _official(gt, detections, task)
    assert len(gt["images"]) == 5000 and len(detections) > 10_000
    assert (expected[:6] > 0.01).all()  # every AP defined and non-trivial, small to large
    got = coco_stats(gt, detections, "bbox" if task == "bbox" else "segm", "faster-coco-eval")
    assert got == pytest.approx(expected, abs=TOLERANCE)


def test_scoring_leaves_the_detections_as_they_were():
    gt, detections = synthetic_coco(50, seed=2)
    few = [dict(d) for d in detections]
    before = json.dumps(few)
    for scorer in SCORERS:
        coco_stats(gt, few, "segm", scorer)
        coco_stats(gt, few, "bbox", scorer)
    assert json.dumps(few) == before  # the saved detections are what the model produced


@pytest.mark.parametrize("scorer", SCORERS)
def test_no_detections_score_zero_where_defined(scorer):
    gt = {"images": [{"id": 1, "width": 100, "height": 100}], "categories": [{"id": 5, "name": "a"}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 5, "bbox": [10, 10, 50, 50], "area": 2500,
                           "iscrowd": 0}]}
    stats = coco_stats(gt, [], "bbox", scorer)
    assert stats.tolist() == [0, 0, 0, -1, 0, -1, 0, 0, 0, -1, 0, -1]  # no small or large objects
    assert cell_stats(stats) == {"AP": 0.0, "AP50": 0.0, "AP75": 0.0, "APm": 0.0}


def test_scorer_versions_are_known_and_unknown_scorers_refused():
    assert all(scorer_version(s)[0].isdigit() for s in SCORERS)
    with pytest.raises(ValueError, match="unknown scorer"):
        scorer_version("detectron2-fast")
