"""The detector under test: config from a file or detectron2's model zoo, weights given or random."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from detectron2 import model_zoo
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.config import CfgNode, get_cfg
from detectron2.modeling import build_model
from detectron2.utils.file_io import PathManager

from fan_det.detection import add_fan_config  # importing it registers the FAN backbones
from fan_det.robustness.cache import sha256_file, sha256_json


def sha256_state_dict(state_dict: Mapping[str, torch.Tensor]) -> str:
    """Hex SHA-256 of tensor names, dtypes, shapes and values: identifies randomly initialised weights."""
    digest = hashlib.sha256()
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def resolve_config_path(config: str) -> str:
    """A YAML file path, or a model-zoo path such as ``COCO-Detection/retinanet_R_50_FPN_1x.yaml``."""
    if Path(config).is_file():
        return str(config)
    try:
        return model_zoo.get_config_file(config)
    except RuntimeError:
        raise FileNotFoundError(
            f"--config {config!r} is neither a file nor a detectron2 model-zoo config "
            "(e.g. COCO-Detection/retinanet_R_50_FPN_1x.yaml)"
        ) from None


def load_config(config: str, opts: Sequence[str] = (), weights: str | None = None) -> CfgNode:
    """detectron2 config with the FAN keys, merged from ``config`` then ``opts``, set up for evaluation.

    ``MODEL.WEIGHTS`` becomes ``weights`` ("" for random init) and the FAN trunk's ImageNet checkpoint is
    dropped: the detector's own weights replace every parameter anyway. Without CUDA the device is CPU.
    """
    cfg = add_fan_config(get_cfg())
    cfg.merge_from_file(resolve_config_path(config))
    cfg.merge_from_list(list(opts))
    cfg.MODEL.WEIGHTS = weights or ""
    cfg.MODEL.FAN.WEIGHTS = ""
    if not torch.cuda.is_available():
        cfg.MODEL.DEVICE = "cpu"
    cfg.freeze()
    return cfg


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


def build_eval_model(cfg: CfgNode, seed: int) -> tuple[torch.nn.Module, str]:
    """The model in eval mode with ``cfg.MODEL.WEIGHTS`` loaded (random init from ``seed`` if empty).

    Returns the model and the SHA-256 of its weights: of the checkpoint file, or of the initial state
    dict when randomly initialised (the same seed gives the same model, hence the same hash).
    """
    torch.manual_seed(seed)
    model = build_model(cfg)
    model.eval()
    if not cfg.MODEL.WEIGHTS:
        return model, sha256_state_dict(model.state_dict())
    local = PathManager.get_local_path(cfg.MODEL.WEIGHTS)
    if not Path(local).is_file():
        raise FileNotFoundError(f"--weights {cfg.MODEL.WEIGHTS!r} does not exist")
    DetectionCheckpointer(model).load(local)
    return model, sha256_file(local)
