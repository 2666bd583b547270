"""AdamW for FAN detectors: no weight decay on norms, biases, positional and temperature parameters, and
optional layer-wise lr decay over the FAN blocks (the recipe of the original detection code).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from detectron2.config import CfgNode
from detectron2.layers.batch_norm import LayerNorm as D2LayerNorm
from detectron2.modeling.backbone.vit import get_vit_lr_decay_rate
from detectron2.solver.build import (
    get_default_optimizer_params,
    maybe_add_gradient_clipping,
    reduce_param_groups,
)
from torch import nn

from fan_det.detection.backbone import FANBackbone


def _trunk(model: nn.Module) -> tuple[str | None, int]:
    """Name prefix of the FAN trunk's timm model inside ``model`` and its number of FAN blocks."""
    for name, module in model.named_modules():
        if isinstance(module, FANBackbone):
            return (f"{name}.model." if name else "model."), len(module.model.blocks)
    return None, 0


def param_groups(
    model: nn.Module,
    base_lr: float,
    weight_decay: float,
    *,
    weight_decay_norm: float = 0.0,
    no_decay_keywords: Sequence[str] = ("pos_embed", "cls_token", "temperature"),
    layer_decay: float = 1.0,
    head_lr_factor: float = 1.0,
) -> list[dict]:
    """Optimizer param groups: one per distinct (lr, weight decay), every trainable parameter once.

    detectron2's ``get_default_optimizer_params``: norm parameters get ``weight_decay_norm``, biases no
    decay; parameters whose name contains a keyword get no decay either. With ``layer_decay < 1``
    detectron2's ViT rule (``get_vit_lr_decay_rate``) gives a parameter in FAN layer ``l`` of a trunk of
    depth ``D`` the lr ``base_lr * layer_decay ** (D + 1 - l)`` (embeddings are layer 0; heads keep
    ``base_lr``). Parameters outside the model's ``backbone`` (the heads) get ``base_lr * head_lr_factor``.
    """
    prefix, depth = _trunk(model)

    has_backbone = isinstance(getattr(model, "backbone", None), nn.Module)

    def lr_factor(name: str) -> float:
        if has_backbone and not name.startswith("backbone."):
            return head_lr_factor
        if layer_decay == 1.0 or prefix is None or not name.startswith(prefix):
            return 1.0
        local = name[len(prefix):]
        if local.startswith("cls_token"):  # unknown to detectron2's rule; an embedding, so layer 0
            return layer_decay ** (depth + 1)
        return get_vit_lr_decay_rate(f"backbone.{local}", layer_decay, depth)

    groups = get_default_optimizer_params(model, base_lr, weight_decay, weight_decay_norm=weight_decay_norm,
                                          weight_decay_bias=0.0, lr_factor_func=lr_factor)
    # detectron2's overrides match a parameter's own name (pos_embed is a module here) and its norm types
    # leave out detectron2's LayerNorm (ViT simple pyramid): both fixed up per parameter.
    no_decay = {id(p) for n, p in model.named_parameters() if any(k in n for k in no_decay_keywords)}
    d2_norm = {id(p) for m in model.modules() if isinstance(m, D2LayerNorm) for p in m.parameters(False)}
    per_param = []
    for group in groups:
        for param in group["params"]:
            wd = group["weight_decay"]
            if id(param) in no_decay:
                wd = 0.0
            elif id(param) in d2_norm and wd != 0.0:  # its bias already has 0, as every bias
                wd = weight_decay_norm
            per_param.append({**group, "params": [param], "weight_decay": wd})
    return reduce_param_groups(per_param)


def build_fan_optimizer(cfg: CfgNode, model: nn.Module) -> torch.optim.Optimizer:
    """``SOLVER.OPTIMIZER`` (ADAMW or SGD) on :func:`param_groups`, with detectron2's gradient clipping."""
    groups = param_groups(
        model, cfg.SOLVER.BASE_LR, cfg.SOLVER.WEIGHT_DECAY,
        weight_decay_norm=cfg.SOLVER.WEIGHT_DECAY_NORM,
        no_decay_keywords=cfg.SOLVER.NO_DECAY_KEYWORDS,
        layer_decay=cfg.SOLVER.LAYER_DECAY,
        head_lr_factor=cfg.SOLVER.HEAD_LR_FACTOR,
    )
    name = cfg.SOLVER.OPTIMIZER.upper()
    if name == "ADAMW":
        return maybe_add_gradient_clipping(cfg, torch.optim.AdamW)(
            groups, lr=cfg.SOLVER.BASE_LR, betas=tuple(cfg.SOLVER.BETAS))
    if name == "SGD":
        return maybe_add_gradient_clipping(cfg, torch.optim.SGD)(
            groups, lr=cfg.SOLVER.BASE_LR, momentum=cfg.SOLVER.MOMENTUM, nesterov=cfg.SOLVER.NESTEROV)
    raise ValueError(f"SOLVER.OPTIMIZER must be ADAMW or SGD, got {cfg.SOLVER.OPTIMIZER!r}")
