"""Evaluate one cell: detectron2's inference over the (corrupted) test set, then COCO scoring.

Images are corrupted on the fly by ``CorruptedDatasetMapper`` (RGB, original resolution, before the
test-time resize) or read from a materialised COCO-C folder. ``COCOEvaluator`` gathers the predictions
of every process and maps them to the dataset's category ids; ``fan_det.robustness.scoring`` scores them
(faster-coco-eval or pycocotools). With several processes detectron2's ``InferenceSampler`` shards the
images without padding; the gathered image ids are checked against the dataset so that every image
counts exactly once.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import time
from collections import Counter
from collections.abc import Collection, Iterator, Sequence

import torch
from detectron2.config import CfgNode
from detectron2.data import DatasetCatalog, DatasetMapper, MetadataCatalog, build_detection_test_loader
from detectron2.evaluation import COCOEvaluator, inference_on_dataset
from detectron2.utils import comm
from tqdm import tqdm

from fan_det.corruptions import CorruptedDatasetMapper
from fan_det.data.identity import dataset_root
from fan_det.protocol import Cell
from fan_det.robustness.finite import finite_outputs
from fan_det.robustness.left_out import kept_records, left_out_ids, without_images
from fan_det.robustness.scoring import DEFAULT_SCORER, cell_stats, coco_stats
from fan_det.runtime.threads import budgeted_worker_init


class _CellEvaluator(COCOEvaluator):
    """COCOEvaluator that gathers the predictions of every rank and maps their category ids to the
    dataset's, but leaves scoring to ``fan_det.robustness.scoring`` (``evaluate`` returns nothing)."""

    gathered: list[dict] | None = None

    def reset(self):
        super().reset()
        self._do_evaluation = False  # COCOEvaluator's switch: map and keep the results, score nothing

    def _eval_predictions(self, predictions, img_ids=None):
        super()._eval_predictions(predictions, img_ids=img_ids)
        self.gathered = predictions


class TimedLoader:
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


def cell_label(dataset: str, cell: Cell) -> str:
    """How refusals name a cell: the dataset, and the corruption and severity unless clean."""
    return dataset if cell.is_clean else f"{dataset} {cell.corruption} severity {cell.severity}"


def cell_inputs(
    cfg: CfgNode, dataset: str, cell: Cell, *, seed: int, materialised: bool, left_out: Collection[str] = ()
) -> tuple[list[dict], DatasetMapper]:
    """The dataset dicts and mapper that produce the cell's images, without the images whose dataset
    ``file_name`` is in ``left_out`` (``--skip-bad``).

    Materialised: the registered ``<dataset>_<corruption>_<severity>`` read as files. On the fly: the clean
    dataset through ``CorruptedDatasetMapper``, which is also used for the clean cell (severity 0) so that
    clean and corrupted images go through the same code.
    """
    name = dataset if cell.is_clean or not materialised else f"{dataset}_{cell.corruption}_{cell.severity}"
    records = DatasetCatalog.get(name)
    if left_out:  # a dataset is loaded again only then (COCO's is a json read)
        records = kept_records(records if name == dataset else DatasetCatalog.get(dataset), records, left_out)
    if materialised:
        return records, DatasetMapper(cfg, is_train=False)
    mapper = CorruptedDatasetMapper(cfg, is_train=False, corruption=cell.corruption, severity=cell.severity,
                                    seed=seed, root=dataset_root(dataset))
    return records, mapper


def evaluate_cell(
    model: torch.nn.Module,
    cfg: CfgNode,
    dataset: str,
    cell: Cell,
    *,
    seed: int,
    materialised: bool,
    num_workers: int,
    scorer: str = DEFAULT_SCORER,
    worker_threads: int | None = None,
    left_out: Collection[str] = (),
) -> dict | None:
    """Run inference over one cell on every rank; on the main rank return its record, else None. Images
    whose dataset ``file_name`` is in ``left_out`` are neither read nor scored (nor their ground truth).

    A model that detects nothing scores 0 wherever the ground truth has objects (detectron2 alone would
    report NaN).

    The record: ``stats`` ({"bbox": {...}, "segm": {...}} on the 0-100 scale; stats the ground truth
    cannot define, such as APs without small objects, are left out), ``detections`` (COCO results with
    the dataset's category ids), ``num_images``, ``num_detections``, ``seconds`` and ``data_wait_seconds``
    (time the model waited for images on the main rank). ``worker_threads`` caps the threads of each
    loader worker (the corruption libraries' OpenCV, numba and OpenMP pools); None leaves them as they are.
    """
    start = time.perf_counter()
    dicts, mapper = cell_inputs(cfg, dataset, cell, seed=seed, materialised=materialised, left_out=left_out)
    loader = build_detection_test_loader(dicts, mapper=mapper, num_workers=num_workers)
    if worker_threads is not None:  # detectron2's test loader takes no worker_init_fn; DataLoader allows it
        loader.worker_init_fn = budgeted_worker_init(worker_threads)
    loader = TimedLoader(loader, desc=cell.name)
    tasks = ("bbox", "segm") if cfg.MODEL.MASK_ON else ("bbox",)
    # An output folder only where COCOEvaluator must first convert the dataset to COCO json.
    has_json = hasattr(MetadataCatalog.get(dataset), "json_file")
    evaluator = _CellEvaluator(dataset, tasks=tasks, distributed=True,
                               output_dir=None if has_json else cfg.OUTPUT_DIR)
    checked = finite_outputs(model, model_label=cfg.MODEL.WEIGHTS or "(random init)",
                             dataset=cell_label(dataset, cell))
    with contextlib.redirect_stdout(io.StringIO()), checked as guarded:  # pycocotools prints as it loads
        inference_on_dataset(guarded, loader, evaluator)
    if not comm.is_main_process():
        return None
    gathered = evaluator.gathered or []
    base = DatasetCatalog.get(dataset)
    expected = [d["image_id"] for d in kept_records(base, base, left_out)]
    check_image_ids([p["image_id"] for p in gathered], expected)
    detections = list(itertools.chain.from_iterable(p["instances"] for p in gathered))
    ground_truth = without_images(evaluator._coco_api.dataset, left_out_ids(base, left_out))
    stats = {task: cell_stats(coco_stats(ground_truth, detections, task, scorer)) for task in tasks}
    return {"stats": stats, "detections": detections, "num_images": len(gathered),
            "num_detections": len(detections), "seconds": time.perf_counter() - start,
            "data_wait_seconds": loader.wait_seconds}
