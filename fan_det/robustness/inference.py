"""Evaluate one cell: detectron2's inference over the (corrupted) test set, scored by COCOEvaluator.

Images are corrupted on the fly by ``CorruptedDatasetMapper`` (RGB, original resolution, before the
test-time resize) or read from a materialised COCO-C folder. Scores come from ``COCOEvaluator`` with the
official pycocotools implementation (``use_fast_impl=False``). With several processes detectron2's
``InferenceSampler`` shards the images without padding; the gathered image ids are checked against the
dataset so that every image counts exactly once.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import math
import time
from collections import Counter
from collections.abc import Iterator, Sequence

import torch
from detectron2.config import CfgNode
from detectron2.data import DatasetCatalog, DatasetMapper, MetadataCatalog, build_detection_test_loader
from detectron2.evaluation import COCOEvaluator, inference_on_dataset
from detectron2.utils import comm
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from tqdm import tqdm

from fan_det.corruptions import CorruptedDatasetMapper
from fan_det.protocol import Cell

STATS = ("AP", "AP50", "AP75", "APs", "APm", "APl")


class _CellEvaluator(COCOEvaluator):
    """COCOEvaluator that keeps the per-image predictions the main process gathered from every rank."""

    gathered: list[dict] | None = None

    def _eval_predictions(self, predictions, img_ids=None):
        self.gathered = predictions
        super()._eval_predictions(predictions, img_ids=img_ids)


class _TimedLoader:
    """Wraps a loader to time how long the model waits for each batch; shows a progress bar on rank 0."""

    def __init__(self, loader, desc: str):
        self.loader, self.desc, self.wait_seconds = loader, desc, 0.0

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator:
        bar = tqdm(total=len(self.loader), desc=self.desc, leave=False, disable=not comm.is_main_process())
        iterator = iter(self.loader)
        while True:
            start = time.perf_counter()
            try:
                batch = next(iterator)
            except StopIteration:
                bar.close()
                return
            self.wait_seconds += time.perf_counter() - start
            bar.update(1)
            yield batch


def check_image_ids(evaluated: Sequence[int], expected: Sequence[int]) -> None:
    """Raise unless every expected image was evaluated exactly once (no sampler padding, none dropped)."""
    counts = Counter(evaluated)
    duplicates = sorted(i for i, n in counts.items() if n > 1)
    missing = sorted(set(expected) - set(counts))
    extra = sorted(set(counts) - set(expected))
    if duplicates or missing or extra or len(evaluated) != len(expected):
        raise RuntimeError(
            f"evaluated {len(evaluated)} images but the dataset has {len(expected)}: duplicates "
            f"{duplicates[:10]}, missing {missing[:10]}, unknown {extra[:10]}"
        )


def cell_inputs(
    cfg: CfgNode, dataset: str, cell: Cell, *, seed: int, materialised: bool
) -> tuple[list[dict], DatasetMapper]:
    """The dataset dicts and mapper that produce the cell's images.

    Materialised: the registered ``<dataset>_<corruption>_<severity>`` read as files. On the fly: the clean
    dataset through ``CorruptedDatasetMapper``, which is also used for the clean cell (severity 0) so that
    clean and corrupted images go through the same code.
    """
    if materialised:
        name = dataset if cell.is_clean else f"{dataset}_{cell.corruption}_{cell.severity}"
        return DatasetCatalog.get(name), DatasetMapper(cfg, is_train=False)
    mapper = CorruptedDatasetMapper(cfg, is_train=False, corruption=cell.corruption, severity=cell.severity,
                                    seed=seed)
    return DatasetCatalog.get(dataset), mapper


def _stats_without_detections(json_file: str, task: str) -> dict[str, float]:
    """COCO stats of an empty result set (0 wherever the ground truth has objects).

    detectron2 reports NaN when a model detects nothing, but a detector that finds nothing has AP 0; an
    empty detection set is scored by pycocotools directly (its ``loadRes`` refuses an empty list).
    """
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(json_file)
        dt = COCO()
        dt.dataset = {"images": gt.dataset["images"], "categories": gt.dataset["categories"],
                      "annotations": []}
        dt.createIndex()
        coco_eval = COCOeval(gt, dt, task)
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
    values = coco_eval.stats[: len(STATS)]
    return {k: float(v * 100) if v >= 0 else float("nan") for k, v in zip(STATS, values, strict=True)}


def evaluate_cell(
    model: torch.nn.Module,
    cfg: CfgNode,
    dataset: str,
    cell: Cell,
    *,
    seed: int,
    materialised: bool,
    num_workers: int,
) -> dict | None:
    """Run inference over one cell on every rank; on the main rank return its record, else None.

    The record: ``stats`` ({"bbox": {...}, "segm": {...}} on the 0-100 scale; stats the ground truth
    cannot define, such as APs without small objects, are left out), ``detections`` (COCO results with
    the dataset's category ids), ``num_images``, ``num_detections``, ``seconds`` and ``data_wait_seconds``
    (time the model waited for images on the main rank).
    """
    start = time.perf_counter()
    dicts, mapper = cell_inputs(cfg, dataset, cell, seed=seed, materialised=materialised)
    loader = _TimedLoader(build_detection_test_loader(dicts, mapper=mapper, num_workers=num_workers),
                          desc=cell.name)
    tasks = ("bbox", "segm") if cfg.MODEL.MASK_ON else ("bbox",)
    # An output folder only where COCOEvaluator must first convert the dataset to COCO json.
    has_json = hasattr(MetadataCatalog.get(dataset), "json_file")
    evaluator = _CellEvaluator(dataset, tasks=tasks, distributed=True, use_fast_impl=False,
                               output_dir=None if has_json else cfg.OUTPUT_DIR)
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its tables
        results = inference_on_dataset(model, loader, evaluator)
    if not comm.is_main_process():
        return None
    gathered = evaluator.gathered or []
    check_image_ids([p["image_id"] for p in gathered], [d["image_id"] for d in DatasetCatalog.get(dataset)])
    detections = list(itertools.chain.from_iterable(p["instances"] for p in gathered))
    json_file = MetadataCatalog.get(dataset).json_file
    stats = {}
    for task in tasks:
        raw = results[task] if detections else _stats_without_detections(json_file, task)
        stats[task] = {k: raw[k] for k in STATS if math.isfinite(raw[k])}
    return {"stats": stats, "detections": detections, "num_images": len(gathered),
            "num_detections": len(detections), "seconds": time.perf_counter() - start,
            "data_wait_seconds": loader.wait_seconds}
