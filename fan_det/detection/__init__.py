"""FAN as detectron2 backbones: trunk, feature pyramids, config keys, optimizer, ImageNet initialisation.

Importing this package registers ``build_fan_backbone``, ``build_fan_fpn_backbone`` and
``build_fan_retinanet_fpn_backbone`` in detectron2's ``BACKBONE_REGISTRY``, and nothing else: datasets are
registered by ``fan_det.data.register.register_tiny_datasets()`` where they are needed (training, the
evaluation tools).
"""

from fan_det.detection.backbone import FANBackbone, fan_model_names, is_hybrid
from fan_det.detection.config import add_fan_config
from fan_det.detection.fpn import (
    build_fan_backbone,
    build_fan_fpn_backbone,
    build_fan_retinanet_fpn_backbone,
    build_fan_trunk,
)
from fan_det.detection.optimizer import build_fan_optimizer, param_groups
from fan_det.detection.trainer import Trainer, check_datasets, configure_torch
from fan_det.detection.weights import (
    StrictDetectionCheckpointer,
    WeightsError,
    load_detector_weights,
    load_imagenet_weights,
    resolve_weights,
)

__all__ = [
    "FANBackbone",
    "StrictDetectionCheckpointer",
    "Trainer",
    "WeightsError",
    "add_fan_config",
    "build_fan_backbone",
    "build_fan_fpn_backbone",
    "build_fan_optimizer",
    "build_fan_retinanet_fpn_backbone",
    "build_fan_trunk",
    "check_datasets",
    "configure_torch",
    "fan_model_names",
    "is_hybrid",
    "load_detector_weights",
    "load_imagenet_weights",
    "param_groups",
    "resolve_weights",
]
