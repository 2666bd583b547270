"""Score a semantic-segmentation model on one cell: every image's confusion matrix, kept per image, as a
grid task (``SemSegTask``) of a detectron2 evaluation job (``SemSegJob``).

``ConfusionEvaluator`` is a detectron2 ``DatasetEvaluator``: for each image it reads the label file the
dataset dict names (never a corrupted copy: corruption touches images only), takes the argmax of the
model's ``sem_seg`` logits at the image's original size, and keeps the ``(C, C)`` matrix under the
image's key. Gathered over every rank and put in the dataset's order, the matrices are the cell's payload:
summed they give the cell's mIoU (``fan_det.metrics.segmentation``), weighted they give a bootstrap
resample.
"""

from __future__ import annotations

import io
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from detectron2.config import CfgNode
from detectron2.data import DatasetCatalog, MetadataCatalog, build_detection_test_loader
from detectron2.evaluation import DatasetEvaluator, inference_on_dataset
from detectron2.utils import comm
from PIL import Image

from fan_det.data.identity import dataset_keys
from fan_det.metrics.segmentation import cell_stats, confusion_matrix
from fan_det.protocol import IGNORE_LABEL, Cell
from fan_det.robustness.finite import finite_outputs
from fan_det.robustness.inference import TimedLoader, cell_inputs, cell_label
from fan_det.robustness.job import EvalJob
from fan_det.robustness.left_out import kept_positions
from fan_det.robustness.options import OptionError
from fan_det.robustness.task import DatasetCell, GridTask
from fan_det.runtime.grid import Codec
from fan_det.runtime.threads import budgeted_worker_init
from fan_det.segmentation.data import LabelError


def read_label(path: str) -> np.ndarray:
    """A label image as integers (PIL directly: detectron2's loader asks numpy 2 for a no-copy array)."""
    try:
        with Image.open(path) as label:
            return np.asarray(label, dtype=np.int64)
    except OSError as error:
        raise LabelError(f"cannot read label file {path}: {error}") from None


class ConfusionEvaluator(DatasetEvaluator):
    """Per-image confusion matrices of ``sem_seg`` predictions; ``evaluate`` returns them on the main rank
    as one ``(N, C, C)`` int64 array in the order of ``keys`` (every image exactly once)."""

    def __init__(self, records: Sequence[Mapping], keys: Sequence[int | str], num_classes: int,
                 ignore_label: int):
        self.labels = {r["file_name"]: r["sem_seg_file_name"] for r in records}
        self.key_of = dict(zip((r["file_name"] for r in records), keys, strict=True))
        self.keys, self.num_classes, self.ignore_label = list(keys), num_classes, ignore_label
        self.matrices: dict[int | str, np.ndarray] = {}

    def reset(self) -> None:
        self.matrices = {}

    def process(self, inputs: Sequence[Mapping], outputs: Sequence[Mapping]) -> None:
        for record, output in zip(inputs, outputs, strict=True):
            prediction = output["sem_seg"].argmax(dim=0).cpu().numpy()
            path = self.labels[record["file_name"]]
            label = read_label(path)
            if label.shape != prediction.shape:
                raise LabelError(f"label file {path} is {label.shape[1]}x{label.shape[0]}, its image "
                                 f"{prediction.shape[1]}x{prediction.shape[0]}")
            try:
                matrix = confusion_matrix(label, prediction, self.num_classes, self.ignore_label)
            except ValueError as error:
                raise LabelError(f"label file {path}: {error}") from None
            self.matrices[self.key_of[record["file_name"]]] = matrix

    def evaluate(self) -> dict | None:
        gathered = comm.gather(self.matrices, dst=0)
        if not comm.is_main_process():
            return None
        merged: dict[int | str, np.ndarray] = {}
        for part in gathered:
            merged.update(part)
        missing = [k for k in self.keys if k not in merged]
        if missing or len(merged) != len(self.keys):
            raise RuntimeError(f"scored {len(merged)} images but the dataset has {len(self.keys)}; "
                               f"missing e.g. {missing[:5]}")
        return {"matrices": np.stack([merged[k] for k in self.keys]).astype(np.int64)}


def matrices_to_bytes(matrices: np.ndarray) -> bytes:
    """A cell's ``(N, C, C)`` matrices as compressed ``.npz`` bytes (the cell cache's payload)."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, matrices=np.asarray(matrices, dtype=np.int64))
    return buffer.getvalue()


def matrices_from_bytes(data: bytes) -> np.ndarray:
    with np.load(io.BytesIO(data)) as archive:
        return archive["matrices"]


def dataset_classes(dataset: str) -> tuple[list[str], int]:
    """A registered semantic-segmentation set's class names (``stuff_classes``) and ignore label."""
    meta = MetadataCatalog.get(dataset)
    classes = meta.get("stuff_classes")
    if not classes:
        raise LabelError(f"dataset {dataset} records no stuff_classes: it is not a semantic-segmentation set")
    return list(classes), int(meta.get("ignore_label", IGNORE_LABEL))


def evaluate_sem_seg_cell(model: torch.nn.Module, cfg: CfgNode, dataset: str, cell: Cell, *, seed: int,
                          materialised: bool, num_workers: int,
                          worker_threads: int | None = None, left_out: Collection[str] = ()) -> dict | None:
    """Run inference over one cell on every rank; on the main rank return ``stats`` (``cell_stats`` of
    the summed matrix), ``matrices`` (``(N, C, C)`` per image, in the dataset's order), ``num_images``,
    ``seconds`` and ``data_wait_seconds``; None on the other ranks. Images whose dataset ``file_name`` is
    in ``left_out`` are neither read nor scored."""
    start = time.perf_counter()
    classes, ignore = dataset_classes(dataset)
    records, mapper = cell_inputs(cfg, dataset, cell, seed=seed, materialised=materialised, left_out=left_out)
    loader = build_detection_test_loader(records, mapper=mapper, num_workers=num_workers)
    if worker_threads is not None:
        loader.worker_init_fn = budgeted_worker_init(worker_threads)
    loader = TimedLoader(loader, desc=cell.name)
    keys = dataset_keys(dataset)
    if left_out:
        keys = [keys[i] for i in kept_positions(DatasetCatalog.get(dataset), left_out)]
    evaluator = ConfusionEvaluator(records, keys, len(classes), ignore)
    checked = finite_outputs(model, model_label=cfg.MODEL.WEIGHTS or "(random init)",
                             dataset=cell_label(dataset, cell))
    with checked as guarded:
        result = inference_on_dataset(guarded, loader, evaluator)
    if not comm.is_main_process():
        return None
    matrices = result["matrices"]
    return {"stats": cell_stats(matrices.sum(axis=0), classes), "matrices": matrices,
            "num_images": len(matrices), "seconds": time.perf_counter() - start,
            "data_wait_seconds": loader.wait_seconds}


MATRICES = Codec("matrices", ".npz", matrices_to_bytes, matrices_from_bytes)


def check_classes(cfg: CfgNode, dataset: str) -> list[str]:
    """The dataset's classes, refusing a model that predicts another number of them (before inference)."""
    DatasetCatalog.get(dataset)  # loading may set the metadata's classes
    try:
        classes, _ = dataset_classes(dataset)
    except LabelError as error:
        raise OptionError(f"{{dataset}}: {error}", "dataset") from None
    predicted = cfg.MODEL.SEM_SEG_HEAD.NUM_CLASSES
    if predicted != len(classes):
        raise OptionError(f"{dataset} has {len(classes)} classes but the model predicts {predicted} "
                          "(MODEL.SEM_SEG_HEAD.NUM_CLASSES); evaluate a model trained on this dataset's "
                          "classes")
    return classes


@dataclass(frozen=True, kw_only=True)
class SemSegTask(GridTask):
    """The per-image confusion matrices of a cell as the payload, its mIoU and per-class IoU as its record
    (``evaluate_sem_seg_cell``)."""

    codec = MATRICES

    def log_entry(self, cell: DatasetCell) -> list:
        return [cell.dataset, *cell.cell]

    def score(self, cell: DatasetCell, left_out: frozenset[str]) -> dict | None:
        return evaluate_sem_seg_cell(self.model, self.cfg, cell.dataset, cell.cell, seed=self.seed,
                                     materialised=self.materialised, num_workers=self.num_workers,
                                     worker_threads=self.worker_threads, left_out=left_out)


@dataclass(frozen=True)
class SemSegJob(EvalJob):
    """An evaluation job scored by confusion matrices."""

    def task(self, model: torch.nn.Module, materialised: bool) -> SemSegTask:
        return SemSegTask(**self.task_fields(model, materialised))
