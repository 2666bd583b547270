"""FAN as a detectron2 trunk: the timm model's ``forward_intermediates`` maps named ``res2..res5`` like a
ResNet's.

Hybrid variants give four maps. In the detection layout (spec, "As a detection backbone"): ConvNeXt stage
1 (128 ch, stride 4), stage 2 (256 ch, stride 8), the tokens after FAN block ``out_index`` (C ch, stride
16) and the patch tokens after the class-attention blocks through a *new* 3x3 stride-2 conv to 768
channels (stride 32). The segmentation layout (the original segmentation code) keeps the first three and
takes the patch tokens after the class-attention blocks as they are: C channels at stride 16. Plain ViT
variants have one stride-16 map, ``res4`` (the patch tokens after the class-attention blocks, i.e. the
last layer as ViTDet uses it); a simple feature pyramid (``fan_det.detection.fpn``) builds the rest.
Channels and strides come from the timm model's ``feature_info``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import timm
import torch
import torch.nn.functional as F
from detectron2.layers import FrozenBatchNorm2d, ShapeSpec
from detectron2.modeling import Backbone
from torch import nn

import fan_det.models  # noqa: F401  (registers the FAN variants in timm)
from fan_det.models.fan import tokens_to_map

HYBRID_FEATURES = ("res2", "res3", "res4", "res5")
VIT_FEATURES = ("res4",)
NORM_MODES = ("BN", "FrozenBN", "SyncBN")
POS_ENCODINGS = ("classification", "detection")
LAYOUTS = ("detection", "segmentation")


def fan_model_names() -> list[str]:
    """Every FAN variant registered in timm (what ``MODEL.FAN.NAME`` accepts)."""
    return timm.list_models("fan_*")


def _check_name(model_name: str) -> None:
    if model_name not in fan_model_names():
        raise ValueError(f"unknown FAN model {model_name!r}; known: {', '.join(fan_model_names())}")


@cache
def is_hybrid(model_name: str) -> bool:
    """Hybrid variants have a ConvNeXt stem, hence stride-4/8 maps: their timm model lists its stages in
    ``feature_info`` before the FAN blocks (asked of a weightless copy on the meta device)."""
    _check_name(model_name)
    with torch.device("meta"):
        return timm.create_model(model_name, pretrained=False).num_stage_features > 0


class FANBackbone(Backbone):
    """A FAN trunk returning ``{res2..res5}`` (hybrids) or ``{res4}`` (ViT variants), NCHW.

    ``layout="segmentation"`` (hybrids): ``res5`` is the stride-16 patch-token map itself, no new conv.

    Any input size works: the input is zero-padded at the bottom/right to a multiple of
    ``size_divisibility`` d (32 for hybrids, 16 for ViT; what detectron2's ``ImageList`` does anyway), so
    a map of stride s has ``ceil(H / d) * d / s`` rows.
    """

    def __init__(
        self,
        model_name: str,
        out_features: Sequence[str] | None = None,
        *,
        out_index: int | None = None,
        drop_path_rate: float = 0.0,
        pos_encoding: str = "detection",
        res5_channels: int = 768,
        grad_checkpointing: bool = False,
        layout: str = "detection",
    ):
        super().__init__()
        _check_name(model_name)
        if pos_encoding not in POS_ENCODINGS:
            raise ValueError(f"pos_encoding must be one of {POS_ENCODINGS}, got {pos_encoding!r}")
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
        self.model = timm.create_model(
            model_name, pretrained=False, num_classes=0, drop_path_rate=drop_path_rate,
            pos_encoding=pos_encoding,
        )
        self.hybrid = self.model.num_stage_features > 0
        if layout == "segmentation" and not self.hybrid:
            raise ValueError(f"the segmentation layout needs a hybrid variant; {model_name} has no ConvNeXt "
                             "stages")
        available = HYBRID_FEATURES if self.hybrid else VIT_FEATURES
        out_features = tuple(out_features or available)
        unknown = [f for f in out_features if f not in available]
        if unknown:
            raise ValueError(f"{model_name} has no feature(s) {unknown}; it gives {list(available)}")
        # The classification norm and head are unused here; dropping them keeps every parameter in the
        # loss (DDP needs that) and makes an ImageNet checkpoint's `norm.*`/`head.*` the unused keys.
        self.model.norm = nn.Identity()
        self.model.head = nn.Identity()
        if grad_checkpointing:
            self.model.set_grad_checkpointing(True)
        depth = len(self.model.blocks)
        if out_index is not None and not 0 <= out_index < depth:
            raise ValueError(f"out_index must be a FAN block in [0, {depth - 1}], got {out_index}")
        self.model_name = model_name
        self.layout = layout
        self.out_index = self.model.dense_out_index if out_index is None else out_index
        # feature indices of forward_intermediates: hybrids list their two ConvNeXt stages before the blocks
        taps = {"res2": 0, "res3": 1, "res4": self.model.num_stage_features + self.out_index}
        wanted = sorted((taps[f], f) for f in out_features if self.hybrid and f in taps)
        self._taps = {f: index for index, f in wanted}  # in feature order, as the maps come back
        info = self.model.feature_info
        last = info[-1]  # the last FAN block: what the class-attention blocks give back, channels and stride
        specs = {f: (info[i]["num_chs"], info[i]["reduction"]) for f, i in taps.items()}
        specs["res5"] = (last["num_chs"], last["reduction"])
        if "res5" in out_features and layout == "detection":
            self.res5_conv = nn.Conv2d(last["num_chs"], res5_channels, kernel_size=3, stride=2, padding=1)
            specs["res5"] = (res5_channels, 2 * last["reduction"])
        if not self.hybrid:
            specs["res4"] = specs["res5"]
        self._out_features = list(out_features)
        self._out_feature_channels = {f: specs[f][0] for f in out_features}
        self._out_feature_strides = {f: specs[f][1] for f in out_features}

    @property
    def size_divisibility(self) -> int:
        return 32 if self.hybrid else 16

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        div = self.size_divisibility
        pad_h, pad_w = -x.shape[-2] % div, -x.shape[-1] % div
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h))
        # ViT variants want no intermediate map, but forward_intermediates needs an index: the last
        # block's map is taken and left unused (strict=False)
        final, maps = self.model.forward_intermediates(x, indices=list(self._taps.values()) or 1)
        out = dict(zip(self._taps, maps, strict=False))
        if not self.hybrid or "res5" in self._out_features:
            # patch tokens after the class-attention blocks (the model's final norm is an identity here)
            grid = tokens_to_map(final[:, 1:], x.shape[-2] // 16, x.shape[-1] // 16)
            if self.hybrid:
                out["res5"] = self.res5_conv(grid) if self.layout == "detection" else grid
            else:
                out["res4"] = grid
        return {f: out[f] for f in self._out_features}

    def output_shape(self) -> dict[str, ShapeSpec]:
        return {
            f: ShapeSpec(channels=self._out_feature_channels[f], stride=self._out_feature_strides[f])
            for f in self._out_features
        }

    def convert_norm(self, mode: str) -> None:
        """Switch the trunk's BatchNorm layers: trainable ``BN``, ``FrozenBN`` or multi-GPU ``SyncBN``."""
        if mode == "FrozenBN":
            FrozenBatchNorm2d.convert_frozen_batchnorm(self)
        elif mode == "SyncBN":
            nn.SyncBatchNorm.convert_sync_batchnorm(self)
        elif mode != "BN":
            raise ValueError(f"MODEL.FAN.NORM must be one of {NORM_MODES}, got {mode!r}")
