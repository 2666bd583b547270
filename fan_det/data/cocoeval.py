"""pycocotools, quietly: the checks the dataset builders run on their own output."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


def self_ap(json_path: Path, iou_type: str = "bbox") -> float:
    """Box (or mask) AP@[.5:.95] of the ground truth used as detections with score 1."""
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(json_path))
        dets = []
        for ann in gt.dataset["annotations"]:
            det = {"image_id": ann["image_id"], "category_id": ann["category_id"], "score": 1.0,
                   "bbox": ann["bbox"]}
            if iou_type == "segm":
                det["segmentation"] = ann["segmentation"]
            dets.append(det)
        evaluator = COCOeval(gt, gt.loadRes(dets), iou_type)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return float(evaluator.stats[0])
