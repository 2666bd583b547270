"""AdamW for FAN detectors: no weight decay on norms, biases, positional and temperature parameters, and
optional layer-wise lr decay over the FAN blocks (the recipe of the original detection code).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch
from detectron2.config import CfgNode
from detectron2.layers.batch_norm import LayerNorm as D2LayerNorm
from detectron2.solver.build import maybe_add_gradient_clipping
from torch import nn

from fan_det.detection.backbone import FAN

NORM_TYPES = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm, nn.LocalResponseNorm, D2LayerNorm)
_BLOCK = re.compile(r"^blocks\.(\d+)\.")


def _trunk_layer(name: str, depth: int) -> int:
    """Layer id inside a FAN trunk's ``model``: 0 = embeddings, i + 1 = block i, depth + 1 = the rest."""
    if name.startswith(("patch_embed.", "pos_embed.", "cls_token")):
        return 0
    match = _BLOCK.match(name)
    return int(match.group(1)) + 1 if match else depth + 1


def param_groups(
    model: nn.Module,
    base_lr: float,
    weight_decay: float,
    *,
    weight_decay_norm: float = 0.0,
    no_decay_keywords: Sequence[str] = ("pos_embed", "cls_token", "temperature"),
    layer_decay: float = 1.0,
) -> list[dict]:
    """Optimizer param groups: one per distinct (lr, weight decay), every trainable parameter once.

    Biases and parameters whose name contains a keyword get no decay; norm parameters get
    ``weight_decay_norm``. With ``layer_decay < 1`` a parameter in FAN layer ``l`` of a trunk of depth
    ``D`` gets ``base_lr * layer_decay ** (D + 1 - l)`` (embeddings are layer 0; heads keep ``base_lr``).
    """
    trunk_prefix, depth = None, 0
    for name, module in model.named_modules():
        if isinstance(module, FAN):
            trunk_prefix, depth = f"{name}.model." if name else "model.", len(module.model.blocks)
            break
    norm_params = {id(p) for m in model.modules() if isinstance(m, NORM_TYPES) for p in m.parameters(False)}
    groups: dict[tuple[float, float], list[nn.Parameter]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if id(param) in norm_params:
            wd = weight_decay_norm
        elif name.endswith(".bias") or any(k in name for k in no_decay_keywords):
            wd = 0.0
        else:
            wd = weight_decay
        lr = base_lr
        if layer_decay != 1.0 and trunk_prefix is not None and name.startswith(trunk_prefix):
            lr = base_lr * layer_decay ** (depth + 1 - _trunk_layer(name[len(trunk_prefix):], depth))
        groups.setdefault((lr, wd), []).append(param)
    return [{"params": params, "lr": lr, "weight_decay": wd} for (lr, wd), params in groups.items()]


def build_fan_optimizer(cfg: CfgNode, model: nn.Module) -> torch.optim.Optimizer:
    """``SOLVER.OPTIMIZER`` (ADAMW or SGD) on :func:`param_groups`, with detectron2's gradient clipping."""
    groups = param_groups(
        model, cfg.SOLVER.BASE_LR, cfg.SOLVER.WEIGHT_DECAY,
        weight_decay_norm=cfg.SOLVER.WEIGHT_DECAY_NORM,
        no_decay_keywords=cfg.SOLVER.NO_DECAY_KEYWORDS,
        layer_decay=cfg.SOLVER.LAYER_DECAY,
    )
    name = cfg.SOLVER.OPTIMIZER.upper()
    if name == "ADAMW":
        return maybe_add_gradient_clipping(cfg, torch.optim.AdamW)(
            groups, lr=cfg.SOLVER.BASE_LR, betas=tuple(cfg.SOLVER.BETAS))
    if name == "SGD":
        return maybe_add_gradient_clipping(cfg, torch.optim.SGD)(
            groups, lr=cfg.SOLVER.BASE_LR, momentum=cfg.SOLVER.MOMENTUM, nesterov=cfg.SOLVER.NESTEROV)
    raise ValueError(f"SOLVER.OPTIMIZER must be ADAMW or SGD, got {cfg.SOLVER.OPTIMIZER!r}")
