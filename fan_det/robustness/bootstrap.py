"""Per-image bootstrap intervals for P and mPC (COCO-C) and per-domain AP (COCO-O), from the saved
detections (no new inference).

Efron (1979)'s percentile bootstrap over images: resample the image ids with replacement, re-run
pycocotools' ``COCOeval.accumulate`` on the per-image evaluations ``COCOeval.evaluate`` made once per
cell, and take the 2.5th and 97.5th percentiles of P and mPC over the resamples. The same resample is
used for every cell (images are the same in every cell), so P and mPC move together as they would on
another draw of the test set. COCO-O's domains hold different images: each is resampled on its own and
the mean's interval comes from the means of the per-domain resamples. Only box AP@[.5:.95] over all
areas at 100 detections is resampled. Cost: one ``evaluate`` per cell, then one ``accumulate`` per cell
and resample (the 76 cells of full COCO-C x 200 resamples take hours on COCO val2017's 5,000 images;
the clean cell's P interval alone takes minutes).
"""

from __future__ import annotations

import contextlib
import copy
import io
from collections.abc import Mapping, Sequence

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from fan_det.protocol import BENCHMARK, CLEAN_CELL, COCO_O_DOMAINS, SEVERITIES

DEFAULT_RESAMPLES = 200
LEVEL = 0.95
MAX_DETS = 100


def dataset_ground_truth(dataset: str) -> COCO:
    """A registered detectron2 dataset's ground truth as ``COCOEvaluator`` reads it: its COCO json file,
    else detectron2's conversion of its dicts (with the dataset's own category ids either way)."""
    from detectron2.data import MetadataCatalog
    from detectron2.data.datasets.coco import convert_to_coco_dict

    json_file = getattr(MetadataCatalog.get(dataset), "json_file", None)
    with contextlib.redirect_stdout(io.StringIO()):
        if json_file:
            return COCO(json_file)
        gt = COCO()
        gt.dataset = convert_to_coco_dict(dataset)
        gt.createIndex()
    return gt


def evaluate_per_image(gt: COCO, detections: Sequence[dict], iou_type: str = "bbox") -> COCOeval:
    """``COCOeval.evaluate`` once (the expensive per-image matching); resamples only re-accumulate."""
    with contextlib.redirect_stdout(io.StringIO()):
        dt = gt.loadRes(list(detections)) if detections else COCO()
        if not detections:  # loadRes refuses an empty list; an empty result set still has its images
            dt.dataset = {"images": gt.dataset["images"], "categories": gt.dataset["categories"],
                          "annotations": []}
            dt.createIndex()
        evaluator = COCOeval(gt, dt, iou_type)
        evaluator.params.maxDets = [MAX_DETS]
        evaluator.evaluate()
    return evaluator


def resampled_ap(evaluated: COCOeval, positions: np.ndarray) -> float:
    """AP@[.5:.95] (0-100) of the images at ``positions`` (indices into the evaluated image ids, with
    repeats), via ``COCOeval.accumulate`` on those images' per-image evaluations; NaN without any
    ground truth in the sample."""
    params = evaluated._paramsEval
    num_images, num_areas = len(params.imgIds), len(params.areaRng)
    area_all = 0  # pycocotools lists the "all" range first
    picked = [evaluated.evalImgs[k * num_areas * num_images + area_all * num_images + int(i)]
              for k in range(len(params.catIds)) for i in positions]
    resample = copy.copy(evaluated)
    resample.evalImgs = picked
    sub = copy.deepcopy(params)
    sub.imgIds = list(range(len(positions)))  # distinct ids, so repeated images all count
    sub.areaRng, sub.areaRngLbl, sub.maxDets = [params.areaRng[area_all]], ["all"], [MAX_DETS]
    resample.params = resample._paramsEval = sub
    with contextlib.redirect_stdout(io.StringIO()):
        resample.accumulate()
    precision = resample.eval["precision"][:, :, :, 0, 0]
    valid = precision[precision > -1]
    return 100.0 * float(valid.mean()) if valid.size else float("nan")


def bootstrap_intervals(cells: Mapping[tuple[str, int], COCOeval], resamples: int = DEFAULT_RESAMPLES,
                        seed: int = 0, level: float = LEVEL) -> dict:
    """``{"P": [lo, hi], "mPC": [lo, hi], "resamples", "level", "seed", "method"}`` for the cells given.

    ``cells`` maps ``(corruption, severity)`` to ``evaluate_per_image`` results over the same images;
    mPC's interval needs the 15 x 5 benchmark grid and is left out otherwise.
    """
    if resamples < 2:
        raise ValueError(f"resamples must be at least 2, got {resamples}")
    image_counts = {len(e._paramsEval.imgIds) for e in cells.values()}
    if len(image_counts) != 1:
        raise ValueError(f"cells were evaluated on different image counts {sorted(image_counts)}")
    num_images = image_counts.pop()
    rng = np.random.default_rng(seed)
    grid = [(c, s) for c in BENCHMARK for s in SEVERITIES]
    has_grid = all(cell in cells for cell in grid)
    p_values, mpc_values = [], []
    for _ in range(resamples):
        positions = rng.integers(0, num_images, size=num_images)
        if tuple(CLEAN_CELL) in cells:
            p_values.append(resampled_ap(cells[tuple(CLEAN_CELL)], positions))
        if has_grid:
            per_cell = {cell: resampled_ap(cells[cell], positions) for cell in grid}
            mpc_values.append(np.mean([np.mean([per_cell[(c, s)] for s in SEVERITIES]) for c in BENCHMARK]))
    out = bootstrap_settings(resamples, seed, level)
    for name, values in (("P", p_values), ("mPC", mpc_values)):
        interval = _percentiles(values, level)
        if interval:
            out[name] = interval
    return out


def domain_intervals(domains: Mapping[str, COCOeval], resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
                     level: float = LEVEL) -> dict:
    """``{"per_domain": {domain: [lo, hi]}, "mean": [lo, hi], "resamples", "level", "seed", "method"}``.

    Each domain's images are resampled on their own; the mean over domains' interval is left out unless
    all six COCO-O domains are given (a mean over fewer is not COCO-O's mean).
    """
    if resamples < 2:
        raise ValueError(f"resamples must be at least 2, got {resamples}")
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {d: [] for d in domains}
    for _ in range(resamples):
        for domain, evaluated in domains.items():
            num_images = len(evaluated._paramsEval.imgIds)
            draws[domain].append(resampled_ap(evaluated, rng.integers(0, num_images, size=num_images)))
    out = bootstrap_settings(resamples, seed, level)
    out["per_domain"] = {d: i for d, v in draws.items() if (i := _percentiles(v, level))}
    if set(domains) == set(COCO_O_DOMAINS):
        means = [float(np.mean(m)) for m in zip(*draws.values(), strict=True)]
        interval = _percentiles(means, level)
        if interval:
            out["mean"] = interval
    return out


def bootstrap_settings(resamples: int, seed: int, level: float = LEVEL) -> dict:
    """How the intervals were made, as the result documents record it."""
    return {"method": "percentile bootstrap over images", "resamples": resamples, "seed": seed,
            "level": level}


def _percentiles(values: Sequence[float], level: float) -> list[float] | None:
    """The central ``level`` interval of the finite values (None without any)."""
    finite = np.asarray([v for v in values if np.isfinite(v)])
    if not finite.size:
        return None
    tail = 100 * (1 - level) / 2
    return [float(np.percentile(finite, tail)), float(np.percentile(finite, 100 - tail))]
