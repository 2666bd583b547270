"""The one way a tool reads a detectron2 config: a YAML file or a model-zoo path, the FAN keys added,
then ``KEY VALUE`` overrides; any bad input is a ``ConfigError`` naming the key (and the nearest valid
one) or the file. Training (``fan_det.train``) and evaluation (``fan_det.robustness.detector``) both
load through it."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from pathlib import Path

import torch
import yaml
from detectron2 import model_zoo
from detectron2.config import CfgNode, get_cfg

from fan_det.detection.config import add_fan_config


class ConfigError(ValueError):
    """A config file or override that cannot be used; the message names the key and the fix."""


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


def _config_keys(cfg: CfgNode, prefix: str = "") -> list[str]:
    keys = []
    for key, value in cfg.items():
        keys += _config_keys(value, f"{prefix}{key}.") if isinstance(value, CfgNode) else [f"{prefix}{key}"]
    return keys


def _unknown_key(error: BaseException, cfg: CfgNode, where: str) -> ConfigError | None:
    """yacs's 'Non-existent key' error as one line naming the key and the nearest valid one."""
    match = re.search(r"Non-existent (?:config )?key: ([\w.]+)", str(error))
    if not match:
        return None
    key = match.group(1)
    near = difflib.get_close_matches(key, _config_keys(cfg), n=1, cutoff=0.6)
    hint = f"did you mean {near[0]}?" if near else "see docs/detection.md for the keys"
    return ConfigError(f"unknown config key {key} in {where} ({hint})")


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error.args[0] if isinstance(error, KeyError) and error.args else error).split())
    return text or type(error).__name__


def load_config(config_file: str, opts: Sequence[str] = ()) -> CfgNode:
    """detectron2 defaults + FAN keys + the YAML file (or model-zoo config) + KEY VALUE overrides, frozen;
    ``ConfigError`` on bad input, and for a CUDA device on a machine without one."""
    try:
        path = resolve_config_path(config_file)
    except FileNotFoundError:
        raise ConfigError(f"no config file at {config_file}: give --config a YAML file from configs/ or a "
                          "detectron2 model-zoo config (COCO-Detection/retinanet_R_50_FPN_1x.yaml)") from None
    cfg = add_fan_config(get_cfg())
    try:
        cfg.merge_from_file(path)
    except (KeyError, AssertionError, ValueError, TypeError, AttributeError, OSError,
            yaml.YAMLError) as error:
        raise _unknown_key(error, cfg, config_file) or ConfigError(
            f"cannot read config {config_file}: {_one_line(error)}") from None
    if len(opts) % 2:
        raise ConfigError(f"config overrides must be KEY VALUE pairs, got an odd count: {' '.join(opts)}")
    try:
        cfg.merge_from_list(list(opts))
    except (KeyError, AssertionError, ValueError, TypeError) as error:
        raise _unknown_key(error, cfg, "the overrides") or ConfigError(
            f"bad config override: {_one_line(error)}") from None
    if cfg.MODEL.DEVICE.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"{config_file} asks for MODEL.DEVICE={cfg.MODEL.DEVICE} but there is no GPU: "
                          "add `MODEL.DEVICE cpu` to the command")
    cfg.freeze()
    return cfg
