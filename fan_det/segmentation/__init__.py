"""Semantic segmentation with FAN in detectron2: SegFormer's head, sliding-window inference, the trainer.

Importing this package registers ``SegFormerHead`` in ``SEM_SEG_HEADS_REGISTRY`` and
``SlidingWindowSegmentor`` in ``META_ARCH_REGISTRY`` (and, through ``fan_det.detection``, the FAN
backbones, including ``build_fan_backbone``: the trunk's own maps).
"""

import fan_det.detection  # noqa: F401  (registers the FAN backbones)
from fan_det.segmentation.data import (
    LabelError,
    SemSegTrainMapper,
    cityscapes_label_problems,
    read_checked_label,
)
from fan_det.segmentation.head import SegFormerHead
from fan_det.segmentation.sliding import (
    SlidingWindowError,
    SlidingWindowSegmentor,
    average_windows,
    window_spans,
)
from fan_det.segmentation.trainer import SegmentationTrainer, check_segmentation, trainer_for

__all__ = [
    "LabelError",
    "SegFormerHead",
    "SegmentationTrainer",
    "SemSegTrainMapper",
    "SlidingWindowError",
    "SlidingWindowSegmentor",
    "average_windows",
    "check_segmentation",
    "cityscapes_label_problems",
    "read_checked_label",
    "trainer_for",
    "window_spans",
]
