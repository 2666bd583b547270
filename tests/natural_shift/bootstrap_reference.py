"""The reference for the per-image bootstrap: pycocotools' own ``accumulate`` re-run on each resample
(the method the weighted sums replace), used by the equality tests and timed by
``benchmarks/bootstrap_scale.py``."""

from __future__ import annotations

import contextlib
import copy
import io

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


def evaluated(gt: COCO, detections: list[dict]) -> COCOeval:
    """pycocotools' per-image matching with its default parameters (every area, 1/10/100 detections)."""
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator = COCOeval(gt, gt.loadRes(detections), "bbox")
        evaluator.evaluate()
    return evaluator


def reaccumulated_ap(evaluation: COCOeval, positions: np.ndarray) -> float:
    """AP@[.5:.95] (0-100, "all" area, 100 detections) of the images at ``positions`` (repeats count as
    distinct images): ``accumulate`` on their per-image evaluations; NaN without any ground truth."""
    params = evaluation._paramsEval
    num_images, num_areas = len(params.imgIds), len(params.areaRng)
    picked = [evaluation.evalImgs[k * num_areas * num_images + int(i)]  # area "all" is the first
              for k in range(len(params.catIds)) for i in positions]
    resample = copy.copy(evaluation)
    resample.evalImgs = picked
    sub = copy.deepcopy(params)
    sub.imgIds = list(range(len(positions)))
    sub.areaRng, sub.areaRngLbl, sub.maxDets = [params.areaRng[0]], ["all"], [100]
    resample.params = resample._paramsEval = sub
    with contextlib.redirect_stdout(io.StringIO()):
        resample.accumulate()
    precision = resample.eval["precision"][:, :, :, 0, 0]
    valid = precision[precision > -1]
    return 100.0 * float(valid.mean()) if valid.size else float("nan")
