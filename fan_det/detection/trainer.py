"""detectron2's DefaultTrainer with the FAN optimizer, COCO evaluation, and DDP on CPUs as well as GPUs."""

from __future__ import annotations

import difflib
import logging
import os
import weakref

import torch
from detectron2.config import CfgNode
from detectron2.data import DatasetCatalog, DatasetMapper, get_detection_dataset_dicts
from detectron2.engine import (
    AMPTrainer,
    DefaultTrainer,
    HookBase,
    SimpleTrainer,
    TrainerBase,
    create_ddp_model,
)
from detectron2.evaluation import COCOEvaluator
from detectron2.utils import comm
from detectron2.utils.logger import setup_logger
from torch import nn

from fan_det.detection.optimizer import build_fan_optimizer
from fan_det.detection.resume import ResumableBatches, ResumeState, SeededStream, preserved_random_state
from fan_det.detection.weights import StrictDetectionCheckpointer


def check_datasets(cfg: CfgNode) -> None:
    """Fail early, naming the registered sets, when a config names a dataset nobody registered."""
    known = DatasetCatalog.list()
    unknown = [d for d in (*cfg.DATASETS.TRAIN, *cfg.DATASETS.TEST) if d not in known]
    if unknown:
        near = [m for d in unknown for m in difflib.get_close_matches(d, known, n=1)]
        hint = f" (did you mean {', '.join(near)}?)" if near else ""
        raise KeyError(f"dataset(s) {unknown} are not registered{hint}; "
                       f"registered: {', '.join(sorted(known))}")


def check_sampler(cfg: CfgNode) -> None:
    """The training order is position-indexed (for exact resume): only the uniform sampler has one."""
    if cfg.DATALOADER.SAMPLER_TRAIN != "TrainingSampler":
        raise ValueError(f"DATALOADER.SAMPLER_TRAIN {cfg.DATALOADER.SAMPLER_TRAIN} is not supported: "
                         "set it to TrainingSampler (exact resume needs its position-indexed order)")


def configure_torch(cfg: CfgNode) -> None:
    """Per process, after detectron2 seeded it (``SEED``): intra-op threads, deterministic CPU kernels.

    With the same ``SEED``, config and ``CPU_THREADS``, CPU training gives the same weights bit for bit
    (the thread count changes how sums are split, hence the last bits). On GPUs nothing is forced: there
    deterministic kernels cost speed and detectron2's own CUDA ops are not deterministic anyway.
    """
    if cfg.CPU_THREADS > 0:
        torch.set_num_threads(cfg.CPU_THREADS)
    if cfg.SEED >= 0 and cfg.MODEL.DEVICE == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
    # a child of detectron2's logger, so it reaches the console and OUTPUT_DIR/log.txt
    logging.getLogger("detectron2.fan_det").info("torch intra-op threads: %d", torch.get_num_threads())


class Trainer(DefaultTrainer):
    """DefaultTrainer whose ``__init__`` wraps DDP without ``device_ids`` on CPUs (gloo); else the same.

    The training loader is a ``ResumableBatches`` (data order and augmentations a function of ``SEED`` and
    the sample's position) and a ``ResumeState`` hook keeps its state and the random states in every
    checkpoint, so ``--resume`` continues exactly where the run stopped. Other hooks are detectron2's:
    periodic checkpoints, ``TEST.EVAL_PERIOD`` evaluation, tensorboard / JSON /
    console metrics; ``SOLVER.AMP.ENABLED`` selects ``AMPTrainer`` and ``SOLVER.CLIP_GRADIENTS`` clips.
    ``MODEL.WEIGHTS`` and resumed checkpoints must fit the model (see ``StrictDetectionCheckpointer``)
    unless ``allow_partial_weights``.
    """

    def __init__(self, cfg: CfgNode, *, allow_partial_weights: bool = False):
        TrainerBase.__init__(self)
        if not logging.getLogger("detectron2").isEnabledFor(logging.INFO):
            setup_logger()
        cfg = DefaultTrainer.auto_scale_workers(cfg, comm.get_world_size())
        model = self.build_model(cfg)
        optimizer = self.build_optimizer(cfg, model)
        data_loader = self.build_train_loader(cfg)
        on_gpu = next(model.parameters()).device.type == "cuda"
        ddp_kwargs = {} if on_gpu else {"device_ids": None}
        model = create_ddp_model(model, broadcast_buffers=False, **ddp_kwargs)
        trainer_cls = AMPTrainer if cfg.SOLVER.AMP.ENABLED else SimpleTrainer
        self._trainer = trainer_cls(model, data_loader, optimizer)
        self.scheduler = self.build_lr_scheduler(cfg, optimizer)
        self.checkpointer = StrictDetectionCheckpointer(
            model, cfg.OUTPUT_DIR, allow_partial=allow_partial_weights, trainer=weakref.proxy(self))
        self.start_iter = 0
        self.max_iter = cfg.SOLVER.MAX_ITER
        self.cfg = cfg
        self.register_hooks(self.build_hooks())

    @classmethod
    def build_optimizer(cls, cfg: CfgNode, model: nn.Module) -> torch.optim.Optimizer:
        return build_fan_optimizer(cfg, model)

    @classmethod
    def build_evaluator(
        cls, cfg: CfgNode, dataset_name: str, output_folder: str | None = None
    ) -> COCOEvaluator:
        output_folder = output_folder or os.path.join(cfg.OUTPUT_DIR, "inference", dataset_name)
        return COCOEvaluator(dataset_name, output_dir=output_folder, use_fast_impl=False)

    def train(self) -> None:
        """detectron2's loop; on a seeded CPU run, TorchScript functions (detectron2's box transform) run
        unoptimised: the executor re-optimises them after their first calls, which changes the last bits,
        so a resumed run's first steps would not compute like an uninterrupted run's later ones."""
        bitwise = self.cfg.SEED >= 0 and self.cfg.MODEL.DEVICE == "cpu"
        with torch.jit.optimized_execution(not bitwise):
            super().train()

    @classmethod
    def build_train_mapper(cls, cfg: CfgNode) -> DatasetMapper:
        """How a training image is read and augmented: detectron2's ``DatasetMapper`` (a task's trainer
        may check more, as segmentation checks its labels)."""
        return DatasetMapper(cfg, True)

    @classmethod
    def build_train_loader(cls, cfg: CfgNode) -> ResumableBatches:
        """detectron2's training set and ``build_train_mapper``, in a stream whose state a checkpoint
        holds."""
        check_sampler(cfg)
        dicts = get_detection_dataset_dicts(
            cfg.DATASETS.TRAIN, filter_empty=cfg.DATALOADER.FILTER_EMPTY_ANNOTATIONS,
            min_keypoints=cfg.MODEL.ROI_KEYPOINT_HEAD.MIN_KEYPOINTS_PER_IMAGE if cfg.MODEL.KEYPOINT_ON else 0,
            proposal_files=cfg.DATASETS.PROPOSAL_FILES_TRAIN if cfg.MODEL.LOAD_PROPOSALS else None)
        seed = cfg.SEED if cfg.SEED >= 0 else comm.shared_random_seed()
        stream = SeededStream(dicts, cls.build_train_mapper(cfg), seed=seed, rank=comm.get_rank(),
                              world_size=comm.get_world_size())
        return ResumableBatches(stream, cfg.SOLVER.IMS_PER_BATCH // comm.get_world_size(),
                                num_workers=cfg.DATALOADER.NUM_WORKERS,
                                group_by_aspect=cfg.DATALOADER.ASPECT_RATIO_GROUPING)

    def build_hooks(self) -> list[HookBase]:
        """detectron2's hooks, led by ``ResumeState`` (it gathers every process's state before the
        checkpointer saves)."""
        resume = ResumeState(self._trainer.data_loader, self.cfg.SOLVER.CHECKPOINT_PERIOD, self.max_iter)
        return [resume, *super().build_hooks()]

    @classmethod
    def test(cls, cfg: CfgNode, model: nn.Module, evaluators=None) -> dict:
        """detectron2's evaluation, leaving the training's random streams as they were."""
        with preserved_random_state():
            return super().test(cfg, model, evaluators)
