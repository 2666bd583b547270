"""The FAN trainer for semantic segmentation: label-checking loaders, SemSegEvaluator, poly lr.

Everything else (optimizer and its param rules, DDP on CPUs and GPUs, strict checkpoints, hooks) is the
detection ``Trainer``'s. ``trainer_for`` picks the trainer a config needs, and ``check_segmentation``
refuses unusable settings before anything runs.
"""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

from detectron2.config import CfgNode
from detectron2.data import MetadataCatalog, build_detection_train_loader
from detectron2.evaluation import SemSegEvaluator
from detectron2.solver import LRMultiplier, WarmupParamScheduler
from fvcore.common.param_scheduler import PolynomialDecayParamScheduler

from fan_det.detection.trainer import Trainer
from fan_det.segmentation.data import (
    LabelError,
    SemSegTrainMapper,
    cityscapes_label_problems,
    read_checked_label,
)
from fan_det.segmentation.sliding import check_sliding

SEM_SEG_EVALUATORS = ("sem_seg", "cityscapes_sem_seg")


def is_segmentation(cfg: CfgNode) -> bool:
    return cfg.MODEL.META_ARCHITECTURE in ("SemanticSegmentor", "SlidingWindowSegmentor")


class SegmentationTrainer(Trainer):
    """``Trainer`` whose loaders check every label map and whose evaluator is ``SemSegEvaluator``."""

    @classmethod
    def build_train_loader(cls, cfg: CfgNode):
        return build_detection_train_loader(cfg, mapper=SemSegTrainMapper(cfg))

    @classmethod
    def build_evaluator(
        cls, cfg: CfgNode, dataset_name: str, output_folder: str | None = None
    ) -> SemSegEvaluator:
        meta = MetadataCatalog.get(dataset_name)
        loader = partial(read_checked_label, num_classes=len(meta.stuff_classes),
                         ignore_label=meta.ignore_label)
        output_folder = output_folder or os.path.join(cfg.OUTPUT_DIR, "inference", dataset_name)
        return SemSegEvaluator(dataset_name, distributed=True, output_dir=output_folder,
                               sem_seg_loading_fn=loader)

    @classmethod
    def build_lr_scheduler(cls, cfg: CfgNode, optimizer):
        """``WarmupPolyLR``: lr * (1 - iter / MAX_ITER) ** POLY_LR_POWER after detectron2's warm-up (the
        factor rising from WARMUP_FACTOR to 1 over WARMUP_ITERS); any other name is detectron2's."""
        if cfg.SOLVER.LR_SCHEDULER_NAME != "WarmupPolyLR":
            return super().build_lr_scheduler(cfg, optimizer)
        solver = cfg.SOLVER
        schedule = WarmupParamScheduler(
            PolynomialDecayParamScheduler(1.0, solver.POLY_LR_POWER), solver.WARMUP_FACTOR,
            min(solver.WARMUP_ITERS / solver.MAX_ITER, 1.0), solver.WARMUP_METHOD, solver.RESCALE_INTERVAL)
        return LRMultiplier(optimizer, multiplier=schedule, max_iter=solver.MAX_ITER)


def trainer_for(cfg: CfgNode) -> type[Trainer]:
    return SegmentationTrainer if is_segmentation(cfg) else Trainer


def check_segmentation(cfg: CfgNode) -> None:
    """Before anything runs: the sliding-window settings, every dataset a semantic-segmentation set, and
    Cityscapes roots holding the label files detectron2 reads (``SlidingWindowError`` / ``LabelError``)."""
    if not is_segmentation(cfg):
        return
    test = cfg.TEST.SEM_SEG
    check_sliding(test.MODE, tuple(test.CROP_SIZE), tuple(test.STRIDE))
    for name in (*cfg.DATASETS.TRAIN, *cfg.DATASETS.TEST):
        meta = MetadataCatalog.get(name)
        if meta.get("evaluator_type") not in SEM_SEG_EVALUATORS:
            raise LabelError(f"{name} is not a semantic-segmentation dataset (evaluator"
                             f" {meta.get('evaluator_type')!r}); e.g. use cityscapes_fine_sem_seg_train")
        if name.startswith("cityscapes_fine_sem_seg_"):
            image_dir = Path(meta.image_dir)
            problems, _ = cityscapes_label_problems(image_dir.parents[1], {image_dir.name: None})
            if problems:
                raise LabelError(f"{name}: {problems[0]}")
