"""Per-image bootstrap intervals for P and mPC (COCO-C) and per-domain AP (COCO-O), from the saved
detections (no new inference).

Efron (1979)'s percentile bootstrap over images: resample the image ids with replacement, recompute COCO
box AP@[.5:.95] (all areas, 100 detections) on each resample, and take the 2.5th and 97.5th percentiles
of P and mPC over the resamples. The same resample is used for every cell (images are the same in every
cell), so P and mPC move together as they would on another draw of the test set. COCO-O's domains hold
different images: each is resampled on its own and the mean's interval comes from the means of the
per-domain resamples.

Cost: pycocotools' ``COCOeval.evaluate`` matches each cell once (``match_detections``); a resample only
changes how many times each image counts, so ``resampled_aps`` computes every resample's precision and
recall at once from weighted cumulative sums over each category's detections, sorted by score once. The
result is ``COCOeval.accumulate``'s AP on the resampled image list, with ties in score broken by image
then by rank in the image, each detection's copies together (pycocotools breaks them by the order of
the drawn list, which for a resample is arbitrary; on the unresampled set both orders are the same).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from scipy import sparse

from fan_det.metrics.corruption import percentile_interval
from fan_det.protocol import BENCHMARK, CLEAN_CELL, COCO_O_DOMAINS, SEVERITIES
from fan_det.robustness.left_out import left_out_ids, without_images

DEFAULT_RESAMPLES = 200
LEVEL = 0.95
MAX_DETS = 100
_EPS = np.spacing(1)  # pycocotools' guard in precision = tp / (tp + fp + eps)
_RESAMPLE_BLOCK = 256  # resamples computed together: bounds the (positions x resamples) arrays


@dataclass(frozen=True)
class _ThresholdMatches:
    """One category at one IoU threshold: its true positives in score order."""

    tp_images: np.ndarray  # image index of each true positive
    tp_rows: np.ndarray  # each true positive's row in the category's ``segments``
    ignored_images: np.ndarray  # image index of each ignored detection (matched to a crowd), in order
    ignored_before: np.ndarray  # how many ignored detections rank above each true positive


@dataclass(frozen=True)
class _CategoryMatches:
    """One category's matches, compact: what a resample's precision/recall curve needs and no more."""

    gt_images: np.ndarray  # images holding ground truth that counts (not crowd) ...
    gt_counts: np.ndarray  # ... and how many each holds
    segments: sparse.csr_matrix  # row j: detections per image ranked after row j-1's and up to row j's
    thresholds: tuple[_ThresholdMatches, ...]  # one per IoU threshold


@dataclass(frozen=True)
class MatchedCell:
    """A cell's detections matched to its ground truth, per image, at every IoU threshold of AP@[.5:.95]."""

    num_images: int
    categories: tuple[_CategoryMatches, ...]  # those with ground truth (the only ones AP averages)
    recall_thresholds: np.ndarray


def dataset_ground_truth(dataset: str, left_out: Collection[str] = ()) -> COCO:
    """A registered detectron2 dataset's ground truth as ``COCOEvaluator`` reads it: its COCO json file,
    else detectron2's conversion of its dicts (with the dataset's own category ids either way); without
    the images whose ``file_name`` is in ``left_out`` (``--skip-bad``)."""
    from detectron2.data import DatasetCatalog, MetadataCatalog
    from detectron2.data.datasets.coco import convert_to_coco_dict

    json_file = getattr(MetadataCatalog.get(dataset), "json_file", None)
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(json_file) if json_file else COCO()
        if not json_file:
            gt.dataset = convert_to_coco_dict(dataset)
        if left_out:
            gt.dataset = without_images(gt.dataset, left_out_ids(DatasetCatalog.get(dataset), left_out))
        if left_out or not json_file:
            gt.createIndex()
    return gt


def match_detections(gt: COCO, detections: Sequence[dict], iou_type: str = "bbox") -> MatchedCell:
    """``COCOeval.evaluate`` once (the expensive per-image matching, over all areas only), kept compact."""
    with contextlib.redirect_stdout(io.StringIO()):
        dt = gt.loadRes(list(detections)) if detections else COCO()
        if not detections:  # loadRes refuses an empty list; an empty result set still has its images
            dt.dataset = {"images": gt.dataset["images"], "categories": gt.dataset["categories"],
                          "annotations": []}
            dt.createIndex()
        evaluator = COCOeval(gt, dt, iou_type)
        evaluator.params.maxDets = [MAX_DETS]
        evaluator.params.areaRng, evaluator.params.areaRngLbl = [evaluator.params.areaRng[0]], ["all"]
        evaluator.evaluate()
    return _compact(evaluator)


def _compact(evaluated: COCOeval) -> MatchedCell:
    """The per-image evaluations of the "all" area, as per-category arrays in COCOeval's score order."""
    params = evaluated._paramsEval
    num_images, num_areas = len(params.imgIds), len(params.areaRng)
    categories = []
    for k in range(len(params.catIds)):
        first = k * num_areas * num_images  # area "all" comes first
        per_image = [(i, e) for i, e in enumerate(evaluated.evalImgs[first:first + num_images]) if e]
        counts = np.array([np.count_nonzero(e["gtIgnore"] == 0) for _, e in per_image], dtype=np.int64)
        if not counts.sum():
            continue  # no ground truth that counts: pycocotools leaves the category out of AP
        categories.append(_category(per_image, counts, num_images))
    return MatchedCell(num_images, tuple(categories), np.asarray(params.recThrs, dtype=float))


def _category(per_image: list[tuple[int, dict]], counts: np.ndarray, num_images: int) -> _CategoryMatches:
    has_gt = counts > 0
    gt_images = np.array([i for i, _ in per_image], dtype=np.int64)[has_gt]
    scores = np.concatenate([np.asarray(e["dtScores"][:MAX_DETS], dtype=float) for _, e in per_image])
    images = np.concatenate([np.full(len(e["dtScores"][:MAX_DETS]), i, dtype=np.int64) for i, e in per_image])
    matched = np.concatenate([e["dtMatches"][:, :MAX_DETS] for _, e in per_image], axis=1)
    ignored = np.concatenate([e["dtIgnore"][:, :MAX_DETS] for _, e in per_image], axis=1)
    order = np.argsort(-scores, kind="mergesort")  # as COCOeval.accumulate over the images in order
    images, matched, ignored = images[order], matched[:, order] != 0, ignored[:, order] != 0
    true_positive = matched & ~ignored
    ranks = [np.flatnonzero(row) for row in true_positive]
    rows = np.unique(np.concatenate(ranks))  # ranks of a true positive at any threshold
    # detections ranked after the last true positive of every threshold never move a precision that counts
    kept = images[: rows[-1] + 1] if rows.size else images[:0]
    segment = np.searchsorted(rows, np.arange(kept.size), side="left")
    segments = sparse.csr_matrix((np.ones(kept.size, dtype=np.float32), (segment, kept)),
                                 shape=(rows.size, num_images))
    segments.sum_duplicates()
    thresholds = []
    for rank, ignored_row in zip(ranks, ignored, strict=True):
        ignored_rank = np.flatnonzero(ignored_row)
        thresholds.append(_ThresholdMatches(
            tp_images=images[rank], tp_rows=np.searchsorted(rows, rank),
            ignored_images=images[ignored_rank], ignored_before=np.searchsorted(ignored_rank, rank)))
    return _CategoryMatches(gt_images, counts[has_gt], segments, tuple(thresholds))


def resample_weights(num_images: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``resamples`` x ``num_images`` counts: how often each image was drawn, one row per resample
    (each row from ``rng.integers(0, num_images, num_images)``, the draws of earlier versions)."""
    return np.stack([image_weights(rng.integers(0, num_images, size=num_images), num_images)
                     for _ in range(resamples)]) if resamples else np.zeros((0, num_images))


def image_weights(positions: np.ndarray, num_images: int) -> np.ndarray:
    """How many times each image occurs among ``positions`` (indices into the image list, with repeats)."""
    return np.bincount(np.asarray(positions, dtype=np.int64), minlength=num_images).astype(float)


def resampled_aps(cell: MatchedCell, weights: np.ndarray) -> np.ndarray:
    """AP@[.5:.95] (0-100) of each resample: row b of ``weights`` says how many times each image counts
    (``image_weights``); NaN for a resample without any ground truth."""
    weights = np.atleast_2d(np.asarray(weights, dtype=float))
    if weights.shape[1] != cell.num_images:
        raise ValueError(f"weights cover {weights.shape[1]} images, the cell {cell.num_images}")
    blocks = [_resampled_aps(cell, np.ascontiguousarray(weights[s:s + _RESAMPLE_BLOCK].T))
              for s in range(0, len(weights), _RESAMPLE_BLOCK)]
    return np.concatenate(blocks) if blocks else np.zeros(0)


def _resampled_aps(cell: MatchedCell, weights: np.ndarray) -> np.ndarray:
    """``weights`` images x resamples; every sum below counts whole images, so it is exact in floats."""
    recall_thresholds = cell.recall_thresholds
    resamples = weights.shape[1]
    total, used = np.zeros(resamples), np.zeros(resamples)
    # the per-row counts are whole numbers below 2**24 at up to 167,772 images: exact in float32 too
    exact = np.float32 if cell.num_images * MAX_DETS < 2**24 else np.float64
    counts = weights.astype(exact)
    columns = np.arange(resamples)
    for category in cell.categories:
        npig = category.gt_counts @ weights[category.gt_images]  # ground truth that counts, per resample
        counted = npig > 0
        if not counted.any():
            continue
        needed = _recall_counts(recall_thresholds, npig)  # true positives each recall threshold needs
        # weighted detections ranked up to each row of the segments
        ranked = np.cumsum(category.segments.astype(exact, copy=False) @ counts, axis=0, dtype=float)
        for matches in category.thresholds:
            total += _sampled_precision_sum(matches, ranked, weights, needed, npig, columns)
        used += counted * len(category.thresholds)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(used > 0, 100.0 * total / (used * len(recall_thresholds)), np.nan)


def _recall_counts(recall_thresholds: np.ndarray, npig: np.ndarray) -> np.ndarray:
    """thresholds x resamples: the fewest true positives m with m / npig >= threshold, as computed in
    floats by pycocotools (so the comparison matches its ``searchsorted`` on recall exactly)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        needed = np.ceil(recall_thresholds[:, None] * npig[None, :])
        for _ in range(2):  # the float product may land one either side
            needed -= (needed > 0) & ((needed - 1) / npig >= recall_thresholds[:, None])
            needed += needed / npig < recall_thresholds[:, None]
    return needed


def _sampled_precision_sum(matches: _ThresholdMatches, ranked: np.ndarray, weights: np.ndarray,
                           needed: np.ndarray, npig: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Per resample, the sum over recall thresholds of COCO's interpolated precision at one IoU threshold.

    Only true positives can hold the highest precision at a given recall (a false positive or an ignored
    detection leaves recall and lowers or keeps precision), and of an image's copies the last one (the
    most true positives for the same share of detections), so the curve is read at the true positives.
    """
    count = matches.tp_images.size
    if not count:
        return np.zeros(len(columns))
    tp = np.cumsum(weights[matches.tp_images], axis=0)
    detections = ranked[matches.tp_rows]
    if matches.ignored_images.size:
        ignored = np.cumsum(weights[matches.ignored_images], axis=0)
        detections -= np.vstack([np.zeros((1, len(columns))), ignored])[matches.ignored_before]
    precision = tp / (detections + _EPS)
    envelope = np.maximum.accumulate(precision[::-1], axis=0)[::-1]
    # first true positive where tp >= needed, per resample: one searchsorted over offset integer columns
    stride = float(npig.max()) + 1
    keys = (tp + columns * stride).T.ravel()
    queries = (needed + columns * stride).T.ravel()
    first = np.searchsorted(keys, queries, side="left").reshape(len(columns), -1)
    first -= (columns * count)[:, None]
    reached = first < count
    sampled = np.where(reached, envelope[np.minimum(first, count - 1), columns[:, None]], 0.0)
    return np.where(npig > 0, sampled.sum(axis=1), 0.0)


def bootstrap_intervals(cells: Mapping[tuple[str, int], MatchedCell], resamples: int = DEFAULT_RESAMPLES,
                        seed: int = 0, level: float = LEVEL) -> dict:
    """``{"P": [lo, hi], "mPC": [lo, hi], "resamples", "level", "seed", "method"}`` for the cells given.

    ``cells`` maps ``(corruption, severity)`` to ``match_detections`` results over the same images;
    mPC's interval needs the 15 x 5 benchmark grid and is left out otherwise.
    """
    if resamples < 2:
        raise ValueError(f"resamples must be at least 2, got {resamples}")
    image_counts = {m.num_images for m in cells.values()}
    if len(image_counts) != 1:
        raise ValueError(f"cells were evaluated on different image counts {sorted(image_counts)}")
    weights = resample_weights(image_counts.pop(), resamples, np.random.default_rng(seed))
    grid = [(c, s) for c in BENCHMARK for s in SEVERITIES]
    out = bootstrap_settings(resamples, seed, level)
    if tuple(CLEAN_CELL) in cells:
        out["P"] = percentile_interval(resampled_aps(cells[tuple(CLEAN_CELL)], weights), level)
    if all(cell in cells for cell in grid):
        per_corruption = [np.mean([resampled_aps(cells[(c, s)], weights) for s in SEVERITIES], axis=0)
                          for c in BENCHMARK]
        out["mPC"] = percentile_interval(np.mean(per_corruption, axis=0), level)
    return {name: value for name, value in out.items() if value is not None}


def domain_intervals(domains: Mapping[str, MatchedCell], resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
                     level: float = LEVEL) -> dict:
    """``{"per_domain": {domain: [lo, hi]}, "mean": [lo, hi], "resamples", "level", "seed", "method"}``.

    Each domain's images are resampled on their own (draws in the order resample, then domain); the mean
    over domains' interval is left out unless all six COCO-O domains are given (a mean over fewer is not
    COCO-O's mean).
    """
    if resamples < 2:
        raise ValueError(f"resamples must be at least 2, got {resamples}")
    rng = np.random.default_rng(seed)
    drawn: dict[str, list[np.ndarray]] = {d: [] for d in domains}
    for _ in range(resamples):
        for domain, matched in domains.items():
            n = matched.num_images
            drawn[domain].append(image_weights(rng.integers(0, n, size=n), n))
    draws = {d: resampled_aps(domains[d], np.stack(w)) for d, w in drawn.items()}
    out = bootstrap_settings(resamples, seed, level)
    out["per_domain"] = {d: i for d, v in draws.items() if (i := percentile_interval(v, level))}
    if set(domains) == set(COCO_O_DOMAINS):
        interval = percentile_interval(np.mean(list(draws.values()), axis=0), level)
        if interval:
            out["mean"] = interval
    return out


def bootstrap_settings(resamples: int, seed: int, level: float = LEVEL) -> dict:
    """How the intervals were made, as the result documents record it."""
    return {"method": "percentile bootstrap over images", "resamples": resamples, "seed": seed,
            "level": level}
