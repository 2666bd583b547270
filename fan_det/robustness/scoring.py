"""COCO AP of a cell's detections: faster-coco-eval (the default) or the official pycocotools.

Both run COCO's own protocol (greedy matching by score, 101-point interpolated precision, areas and
max-detections as in pycocotools); faster-coco-eval is a C++ implementation of the same algorithm that
tests check agrees with pycocotools within 1e-4 on every one of the 12 summary numbers. The scorer and
its version are part of the cache key and of the provenance.
"""

from __future__ import annotations

import argparse
import contextlib
import io
from collections.abc import Mapping, Sequence

import numpy as np

from fan_det.runtime.provenance import package_version

SCORERS = ("faster-coco-eval", "pycocotools")
DEFAULT_SCORER = "faster-coco-eval"
# COCOeval.stats, in order; the cells keep the first six (the ARs add nothing the summary uses)
STAT_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")
CELL_STATS = STAT_NAMES[:6]


def add_scorer_argument(parser: argparse.ArgumentParser) -> None:
    """``--scorer``: the option of the tools that score by COCO's protocol."""
    parser.add_argument("--scorer", choices=SCORERS, default=DEFAULT_SCORER,
                        help="COCO AP implementation (they agree within 1e-4; see docs/robustness.md)")


def scorer_version(scorer: str) -> str:
    """Installed version of a scorer's distribution."""
    if scorer not in SCORERS:
        raise ValueError(f"unknown scorer {scorer!r}; choose one of {', '.join(SCORERS)}")
    version = package_version(scorer)
    if version is None:
        raise RuntimeError(f"{scorer} is not installed (pip install {scorer})")
    return version


def _api(scorer: str) -> tuple[type, type]:
    if scorer == "pycocotools":
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval

        return COCO, COCOeval
    if scorer == "faster-coco-eval":
        from faster_coco_eval import COCO, COCOeval_faster

        return COCO, COCOeval_faster
    raise ValueError(f"unknown scorer {scorer!r}; choose one of {', '.join(SCORERS)}")


def _coco(coco_cls: type, dataset: Mapping) -> object:
    api = coco_cls()
    api.dataset = dict(dataset)
    api.createIndex()
    return api


def coco_stats(ground_truth: Mapping, detections: Sequence[Mapping], task: str, scorer: str) -> np.ndarray:
    """The 12 COCOeval summary numbers (0-1 scale; -1 where the ground truth cannot define one).

    ``ground_truth`` is a COCO json dict; ``detections`` are COCO results with the dataset's category
    ids (copied, never modified: the scorers add fields to what they load). An empty result set scores 0
    wherever the ground truth has objects (the scorers' ``loadRes`` refuses an empty list).
    """
    coco_cls, eval_cls = _api(scorer)
    results = [dict(d) for d in detections]
    if task == "segm":  # a result with a box is read as a box result
        for result in results:
            result.pop("bbox", None)
    with contextlib.redirect_stdout(io.StringIO()):  # both print their tables
        gt = _coco(coco_cls, ground_truth)
        if results:
            dt = gt.loadRes(results)
        else:
            dt = _coco(coco_cls, {"images": ground_truth["images"],
                                  "categories": ground_truth["categories"], "annotations": []})
        evaluation = eval_cls(gt, dt, task)
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return np.asarray(evaluation.stats[: len(STAT_NAMES)], dtype=float)


def cell_stats(stats: np.ndarray) -> dict[str, float]:
    """The cell's six AP stats on the 0-100 scale, leaving out those the ground truth cannot define."""
    return {name: float(value) * 100 for name, value in zip(CELL_STATS, stats, strict=False) if value >= 0}
