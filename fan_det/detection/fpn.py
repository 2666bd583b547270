"""Feature pyramids on the FAN trunk, registered in detectron2's ``BACKBONE_REGISTRY``.

``build_fan_fpn_backbone`` gives P2-P6 (the R-CNN family, P6 by max-pooling P5);
``build_fan_retinanet_fpn_backbone`` gives P3-P7 (P6/P7 from the stride-32 map). Hybrids use a standard
FPN on ``res2..res5``, whose stride-32 map is ``res5`` (the new 768-ch conv). ViT variants use ViTDet's
simple feature pyramid on the stride-16 ``res4``, whose stride-32 map is its own ``p5``.
"""

from __future__ import annotations

from detectron2.config import CfgNode
from detectron2.layers import ShapeSpec
from detectron2.modeling import BACKBONE_REGISTRY, FPN, Backbone
from detectron2.modeling.backbone.fpn import LastLevelMaxPool, LastLevelP6P7
from detectron2.modeling.backbone.vit import SimpleFeaturePyramid
from torch import nn

from fan_det.detection.backbone import FANBackbone, is_hybrid
from fan_det.detection.weights import load_imagenet_weights

# Simple-feature-pyramid scale factors on the stride-16 map: P2..P5 and P3..P5.
_RCNN_SCALES = (4.0, 2.0, 1.0, 0.5)
_RETINANET_SCALES = (2.0, 1.0, 0.5)


class FANSimpleFeaturePyramid(SimpleFeaturePyramid):
    """detectron2's simple feature pyramid, telling the meta-architecture its size divisibility (the
    upstream class spells the ``padding_constraints`` key so that it is ignored, and inputs go unpadded)."""

    @property
    def size_divisibility(self) -> int:
        return self._size_divisibility

    @property
    def padding_constraints(self) -> dict[str, int]:
        return {"size_divisibility": self._size_divisibility, "square_size": self._square_pad}


def build_fan_trunk(cfg: CfgNode) -> FANBackbone:
    """The FAN trunk from ``cfg.MODEL.FAN``, initialised from ``MODEL.FAN.WEIGHTS`` when set."""
    fan = cfg.MODEL.FAN
    trunk = FANBackbone(
        fan.NAME,
        fan.OUT_FEATURES if is_hybrid(fan.NAME) else None,
        out_index=None if fan.OUT_INDEX < 0 else fan.OUT_INDEX,
        drop_path_rate=fan.DROP_PATH_RATE,
        pos_encoding=fan.POS_ENCODING,
        res5_channels=fan.RES5_CHANNELS,
        grad_checkpointing=fan.GRAD_CHECKPOINTING,
        layout=fan.LAYOUT,
    )
    if fan.WEIGHTS:
        load_imagenet_weights(trunk, fan.WEIGHTS)  # before the BN conversion: it renames no keys then
    trunk.convert_norm(fan.NORM)
    return trunk


def _check_in_features(trunk: FANBackbone, in_features: list[str], wanted: list[str]) -> None:
    if list(in_features) != wanted:
        raise ValueError(f"MODEL.FPN.IN_FEATURES must be {wanted} for this pyramid, got {list(in_features)}")
    missing = [f for f in wanted if f not in trunk.output_shape()]
    if missing:
        raise ValueError(f"MODEL.FAN.OUT_FEATURES lacks {missing}, which MODEL.FPN.IN_FEATURES needs")


def _pyramid(cfg: CfgNode, scales: tuple[float, ...], top_block: str) -> Backbone:
    trunk = build_fan_trunk(cfg)
    out_channels = cfg.MODEL.FPN.OUT_CHANNELS
    if trunk.hybrid:
        levels = {4.0: "res2", 2.0: "res3", 1.0: "res4", 0.5: "res5"}
        _check_in_features(trunk, cfg.MODEL.FPN.IN_FEATURES, [levels[s] for s in scales])
        top: nn.Module = (
            LastLevelMaxPool() if top_block == "maxpool"
            else LastLevelP6P7(trunk.output_shape()["res5"].channels, out_channels, in_feature="res5")
        )
        return FPN(trunk, cfg.MODEL.FPN.IN_FEATURES, out_channels, norm=cfg.MODEL.FPN.NORM,
                   top_block=top, fuse_type=cfg.MODEL.FPN.FUSE_TYPE)
    top = (LastLevelMaxPool() if top_block == "maxpool"
           else LastLevelP6P7(out_channels, out_channels, in_feature="p5"))
    return FANSimpleFeaturePyramid(trunk, "res4", out_channels, list(scales), top_block=top,
                                   norm=cfg.MODEL.FAN.SIMPLE_FPN_NORM)


@BACKBONE_REGISTRY.register()
def build_fan_fpn_backbone(cfg: CfgNode, input_shape: ShapeSpec) -> Backbone:
    """P2-P6 (256 ch by default) for Faster / Mask / Cascade R-CNN."""
    return _pyramid(cfg, _RCNN_SCALES, "maxpool")


@BACKBONE_REGISTRY.register()
def build_fan_retinanet_fpn_backbone(cfg: CfgNode, input_shape: ShapeSpec) -> Backbone:
    """P3-P7 for RetinaNet: P6 and P7 come from the stride-32 map (``res5`` or the pyramid's ``p5``)."""
    return _pyramid(cfg, _RETINANET_SCALES, "p6p7")


@BACKBONE_REGISTRY.register()
def build_fan_backbone(cfg: CfgNode, input_shape: ShapeSpec) -> Backbone:
    """The trunk's own maps, no pyramid: what semantic-segmentation heads take (``MODEL.FAN.LAYOUT``
    "segmentation" for the original segmentation code's four maps)."""
    return build_fan_trunk(cfg)
