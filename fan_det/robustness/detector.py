"""The detector under test: config from a file or detectron2's model zoo, weights loaded whole or none.

A checkpoint must fit the model exactly (the strict checkpointer of ``fan_det.detection.weights``): one
of another architecture is refused with its missing / unexpected / wrong-shape keys, never evaluated
half loaded.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import torch
from detectron2.config import CfgNode
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.modeling import build_model

import fan_det.segmentation  # noqa: F401  (registers the SegFormer head and SlidingWindowSegmentor)
from fan_det.detection.config_file import load_config as load_detectron2_config
from fan_det.detection.config_file import resolve_config_path
from fan_det.detection.weights import StrictDetectionCheckpointer
from fan_det.models.checkpoint import CheckpointMismatchError, checkpoint_file
from fan_det.robustness.options import OptionError
from fan_det.runtime.hashing import sha256_file, sha256_json, sha256_state_dict


def load_config(config: str, opts: Sequence[str] = (), weights: str | None = None) -> CfgNode:
    """The config as training loads it (``fan_det.detection.config_file``), set up for evaluation.

    ``MODEL.WEIGHTS`` becomes ``weights`` ("" for random init) and the FAN trunk's ImageNet checkpoint is
    dropped: the detector's own weights replace every parameter anyway. Without CUDA the device is CPU.
    ``OptionError`` names a config that is neither a file nor in the model zoo.
    """
    resolve_config_path(config)
    overrides = [*opts, "MODEL.WEIGHTS", weights or "", "MODEL.FAN.WEIGHTS", ""]
    if not torch.cuda.is_available():
        overrides += ["MODEL.DEVICE", "cpu"]
    return load_detectron2_config(config, overrides)


# Per detectron2 meta-architecture: the config keys that set how many classes its heads predict, each with
# the dataset metadata field listing the classes it must match.
CLASS_COUNT_KEYS: dict[str, tuple[tuple[str, str], ...]] = {
    "RetinaNet": (("MODEL.RETINANET.NUM_CLASSES", "thing_classes"),),
    "GeneralizedRCNN": (("MODEL.ROI_HEADS.NUM_CLASSES", "thing_classes"),),
    "SemanticSegmentor": (("MODEL.SEM_SEG_HEAD.NUM_CLASSES", "stuff_classes"),),
    "SlidingWindowSegmentor": (("MODEL.SEM_SEG_HEAD.NUM_CLASSES", "stuff_classes"),),
}


def check_num_classes(cfg: CfgNode, dataset: str) -> None:
    """Refuse, before any inference, a model whose heads predict another number of classes than the
    registered ``dataset`` has: fewer would be scored on the wrong categories without a word, more die in
    the evaluator after the first cell. The message names the config key to change. Architectures
    without a known class-count key are not checked."""
    DatasetCatalog.get(dataset)  # loading sets the metadata's classes
    metadata = MetadataCatalog.get(dataset)
    for key, field in CLASS_COUNT_KEYS.get(cfg.MODEL.META_ARCHITECTURE, ()):
        heads = functools.reduce(getattr, key.split("."), cfg)
        classes = len(getattr(metadata, field, ()))
        if heads != classes:
            raise OptionError(f"{dataset} has {classes} categories but the detector predicts {heads} "
                              f"({key}); evaluate a model trained on this dataset's categories, or set {key} "
                              f"{classes} in its config")


def config_sha256(cfg: CfgNode) -> str:
    """Hash of the config minus what cannot change a number (output folder, loader workers, weights path)."""
    normalised = cfg.clone()
    normalised.defrost()
    normalised.OUTPUT_DIR = ""
    normalised.DATALOADER.NUM_WORKERS = 0
    normalised.MODEL.WEIGHTS = ""
    return sha256_json(normalised.dump())


def model_name(cfg: CfgNode, config: str) -> str:
    """``"<FAN variant> retinanet"`` for FAN backbones, else the config's file stem."""
    if "fan" in cfg.MODEL.BACKBONE.NAME.lower():
        arch = cfg.MODEL.META_ARCHITECTURE
        kind = "retinanet" if arch == "RetinaNet" else ("mask_rcnn" if cfg.MODEL.MASK_ON else arch.lower())
        return f"{cfg.MODEL.FAN.NAME} {kind}"
    return Path(config).stem


def backbone_name(cfg: CfgNode) -> str:
    """The trunk as the report's one-row-per-backbone table names it: the FAN variant (the timm name the
    classifiers record), ``R-<depth>`` for detectron2's ResNets, else the backbone builder's name."""
    name = cfg.MODEL.BACKBONE.NAME
    if "fan" in name.lower():
        return cfg.MODEL.FAN.NAME
    if "resnet" in name.lower():
        return f"R-{cfg.MODEL.RESNETS.DEPTH}"
    return name


def local_weights(weights: str) -> str:
    """The checkpoint as a local file (``fan_det.models.checkpoint.checkpoint_file``: a URL is downloaded
    once into the cache).

    Raises ``OptionError`` for a path that does not exist and ``OSError`` when a URL cannot be fetched
    (offline, say).
    """
    if "://" not in weights and not Path(weights).is_file():
        raise OptionError(f"{{weights}} {weights} does not exist", "weights")
    return str(checkpoint_file(weights))


def build_eval_model(cfg: CfgNode, seed: int) -> tuple[torch.nn.Module, str]:
    """The model in eval mode with ``cfg.MODEL.WEIGHTS`` (a local file) loaded whole, or random from ``seed``.

    Returns the model and the SHA-256 of its weights: of the checkpoint file, or of the initial state
    dict when randomly initialised (the same seed gives the same model, hence the same hash). A
    checkpoint that does not fit raises ``CheckpointMismatchError``; one that is no checkpoint,
    ``WeightsError``.
    """
    torch.manual_seed(seed)
    model = build_model(cfg)
    model.eval()
    if not cfg.MODEL.WEIGHTS:
        return model, sha256_state_dict(model.state_dict())
    checkpointer = StrictDetectionCheckpointer(model)  # load_detector_weights, keeping its key report
    try:
        checkpointer.load(cfg.MODEL.WEIGHTS, checkpointables=[])
    except CheckpointMismatchError:
        raise CheckpointMismatchError(
            f"does not fit the model of this config: {checkpointer.last_report.one_line()}; evaluate it with "
            "the config it was trained with") from None
    return model, sha256_file(cfg.MODEL.WEIGHTS)
