"""Evaluation preprocessing from timm's data config, with overrides, recorded with the results.

Precedence, lowest first: timm's defaults, the model's ``pretrained_cfg``, the data config a
``module:callable`` returned, the command line (``--img-size``, ``--crop-pct``, ...).
"""

from __future__ import annotations

from collections.abc import Mapping

from timm.data import create_transform, resolve_data_config
from torch import nn

PREPROCESSING_KEYS = ("input_size", "crop_pct", "interpolation", "mean", "std", "crop_mode")


def resolve_preprocessing(model: nn.Module, base: Mapping | None = None,
                          overrides: Mapping | None = None) -> dict:
    """The evaluation data config as a JSON-ready dict with the keys in ``PREPROCESSING_KEYS``.

    ``overrides`` takes timm's argument names (``img_size``, ``input_size``, ``crop_pct``,
    ``interpolation``, ``mean``, ``std``, ``crop_mode``); ``None`` values are ignored.
    """
    pretrained_cfg = dict(getattr(model, "pretrained_cfg", None) or {})
    pretrained_cfg.update(base or {})
    args = {k: v for k, v in (overrides or {}).items() if v is not None}
    cfg = resolve_data_config(args=args, pretrained_cfg=pretrained_cfg or None, model=model)
    return {
        "input_size": [int(v) for v in cfg["input_size"]],
        "crop_pct": float(cfg["crop_pct"]),
        "interpolation": str(cfg["interpolation"]),
        "mean": [float(v) for v in cfg["mean"]],
        "std": [float(v) for v in cfg["std"]],
        "crop_mode": str(cfg["crop_mode"]),
    }


def build_transform(preprocessing: Mapping):
    """timm's evaluation transform (resize, crop, to-tensor, normalise) for a resolved config."""
    return create_transform(
        input_size=tuple(preprocessing["input_size"]),
        is_training=False,
        interpolation=preprocessing["interpolation"],
        mean=tuple(preprocessing["mean"]),
        std=tuple(preprocessing["std"]),
        crop_pct=preprocessing["crop_pct"],
        crop_mode=preprocessing["crop_mode"],
    )
