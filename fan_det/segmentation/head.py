"""SegFormer's all-MLP decoder as a detectron2 semantic-segmentation head (``SEM_SEG_HEADS_REGISTRY``).

Xie et al. 2021, "SegFormer: Simple and Efficient Design for Semantic Segmentation with Transformers",
Sec. 3.2: every input map F_i (C_i channels) is projected by its own linear layer to one embedding size
C, the projections are resized bilinearly to the finest map's size, concatenated, and fused by a linear
layer 4C -> C (here a 1x1 conv without bias, a norm and a ReLU); after dropout a linear classifier
C -> N gives the logits at the finest stride, which are upsampled to the input size. The loss is pixel
cross-entropy against the label map with the ignore value left out.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from detectron2.config import CfgNode, configurable
from detectron2.layers import Conv2d, ShapeSpec, get_norm
from detectron2.modeling import SEM_SEG_HEADS_REGISTRY
from torch import nn


@SEM_SEG_HEADS_REGISTRY.register()
class SegFormerHead(nn.Module):
    """In training ``forward`` returns ``(None, {"loss_sem_seg": ...})``, in inference ``(logits, {})`` with
    logits (N, classes, H, W) at the (padded) input size, as detectron2's ``SemSegFPNHead`` does."""

    @configurable
    def __init__(
        self,
        input_shape: dict[str, ShapeSpec],
        *,
        num_classes: int,
        embed_dim: int = 768,
        dropout: float = 0.1,
        norm: str = "BN",
        ignore_value: int = 255,
        loss_weight: float = 1.0,
    ):
        super().__init__()
        self.in_features = list(input_shape)
        self.common_stride = min(s.stride for s in input_shape.values())
        self.ignore_value = ignore_value
        self.loss_weight = loss_weight
        self.proj = nn.ModuleList(nn.Linear(s.channels, embed_dim) for s in input_shape.values())
        self.fuse = Conv2d(len(input_shape) * embed_dim, embed_dim, kernel_size=1, bias=False,
                           norm=get_norm(norm, embed_dim), activation=F.relu)
        self.dropout = nn.Dropout2d(dropout)
        self.classifier = nn.Conv2d(embed_dim, num_classes, kernel_size=1)

    @classmethod
    def from_config(cls, cfg: CfgNode, input_shape: dict[str, ShapeSpec]) -> dict:
        head = cfg.MODEL.SEM_SEG_HEAD
        return {
            "input_shape": {f: input_shape[f] for f in head.IN_FEATURES},
            "num_classes": head.NUM_CLASSES,
            "embed_dim": cfg.MODEL.SEGFORMER.EMBED_DIM,
            "dropout": cfg.MODEL.SEGFORMER.DROPOUT,
            "norm": head.NORM,
            "ignore_value": head.IGNORE_VALUE,
            "loss_weight": head.LOSS_WEIGHT,
        }

    def layers(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        """Logits at the finest input map's size (stride ``common_stride``)."""
        maps = [features[f] for f in self.in_features]
        size = max((m.shape[-2:] for m in maps), key=lambda s: s[0] * s[1])
        projected = []
        for proj, x in zip(self.proj, maps, strict=True):
            y = proj(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)  # a linear layer per pixel
            projected.append(F.interpolate(y, size=size, mode="bilinear", align_corners=False))
        return self.classifier(self.dropout(self.fuse(torch.cat(projected, dim=1))))

    def forward(
        self, features: dict[str, torch.Tensor], targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor | None, dict[str, torch.Tensor]]:
        logits = F.interpolate(self.layers(features), scale_factor=self.common_stride, mode="bilinear",
                               align_corners=False)
        if self.training:
            return None, self.losses(logits, targets)
        return logits, {}

    def losses(self, logits: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
        loss = F.cross_entropy(logits.float(), targets, reduction="mean", ignore_index=self.ignore_value)
        return {"loss_sem_seg": loss * self.loss_weight}
