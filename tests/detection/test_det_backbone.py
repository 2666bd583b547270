"""The FAN trunk and its pyramids: names, strides, channels and shapes for every variant at odd sizes."""

from __future__ import annotations

import math

import pytest
import torch
from detectron2.config import get_cfg
from detectron2.layers import ShapeSpec
from detectron2.modeling import BACKBONE_REGISTRY

from fan_det.detection import FANBackbone, add_fan_config, fan_model_names, is_hybrid

ODD_SIZES = [(97, 131), (70, 45), (161, 64)]
# spec, "Variants" table: embedding width C per variant
WIDTH = {"fan_tiny_12_p16_224": 192, "fan_small_12_p16_224": 384, "fan_small_12_p16_224_se_attn": 384,
         "fan_base_18_p16_224": 448, "fan_large_24_p16_224": 480, "fan_tiny_8_p4_hybrid": 192,
         "fan_small_12_p4_hybrid": 384, "fan_base_16_p4_hybrid": 448, "fan_large_16_p4_hybrid": 480}


def test_every_spec_variant_is_offered():
    assert sorted(fan_model_names()) == sorted(WIDTH)


@pytest.mark.parametrize("name", sorted(WIDTH))
def test_trunk_maps_match_output_shape(name):
    torch.manual_seed(0)
    trunk = FANBackbone(name).eval()
    c = WIDTH[name]
    if is_hybrid(name):
        expected = {"res2": (128, 4), "res3": (256, 8), "res4": (c, 16), "res5": (768, 32)}
    else:
        expected = {"res4": (c, 16)}
    assert {k: (s.channels, s.stride) for k, s in trunk.output_shape().items()} == expected
    div = trunk.size_divisibility
    assert div == (32 if is_hybrid(name) else 16)
    with torch.no_grad():
        for h, w in ODD_SIZES:
            out = trunk(torch.randn(2, 3, h, w))
            assert list(out) == list(expected)
            for key, (ch, stride) in expected.items():
                rows, cols = math.ceil(h / div) * div // stride, math.ceil(w / div) * div // stride
                assert out[key].shape == (2, ch, rows, cols), (key, h, w)
                assert torch.isfinite(out[key]).all()


def capture(model, x, index):
    """The classification forward of ``model`` with hooks on the ConvNeXt stages, FAN block ``index`` and
    the last class-attention block: an account of the maps independent of the feature API."""
    seen = {}
    modules = {"res2": model.patch_embed.backbone.stages[0], "res3": model.patch_embed.backbone.stages[1],
               "block": model.blocks[index], "final": model.cls_attn_blocks[-1]}
    hooks = [m.register_forward_hook(lambda _m, _i, o, k=k: seen.__setitem__(k, o))
             for k, m in modules.items()]
    with torch.no_grad():
        model.forward_features(x)
    for hook in hooks:
        hook.remove()
    return seen


def as_map(tokens, h, w):
    return tokens.transpose(1, 2).reshape(tokens.shape[0], -1, h, w)


@pytest.mark.parametrize("out_index", [3, None])
def test_trunk_takes_res4_from_the_configured_block(out_index):
    torch.manual_seed(0)
    trunk = FANBackbone("fan_tiny_8_p4_hybrid", out_index=out_index).eval()
    block = 7 if out_index is None else out_index  # spec: tiny's default detection block is 7
    assert trunk.out_index == block
    x = torch.randn(1, 3, 64, 96)
    seen = capture(trunk.model, x, block)
    with torch.no_grad():
        out = trunk(x)
        res5 = trunk.res5_conv(as_map(seen["final"][:, 1:], 4, 6))
    torch.testing.assert_close(out["res4"], as_map(seen["block"], 4, 6))
    torch.testing.assert_close(out["res5"], res5)
    torch.testing.assert_close(out["res2"], seen["res2"])
    torch.testing.assert_close(out["res3"], seen["res3"])


def test_vit_res4_is_the_patch_tokens_after_class_attention():
    torch.manual_seed(0)
    trunk = FANBackbone("fan_tiny_12_p16_224").eval()
    x = torch.randn(1, 3, 48, 80)
    seen = {}
    hook = trunk.model.cls_attn_blocks[-1].register_forward_hook(lambda m, i, o: seen.__setitem__("f", o))
    with torch.no_grad():
        out = trunk(x)
    hook.remove()
    torch.testing.assert_close(out["res4"], as_map(seen["f"][:, 1:], 3, 5))


def test_out_features_in_any_order_keep_their_maps():
    torch.manual_seed(0)
    trunk = FANBackbone("fan_tiny_8_p4_hybrid", ["res4", "res2"]).eval()
    x = torch.randn(1, 3, 64, 64)
    seen = capture(trunk.model, x, 7)
    with torch.no_grad():
        out = trunk(x)
    assert list(out) == ["res4", "res2"] and not hasattr(trunk, "res5_conv")
    torch.testing.assert_close(out["res2"], seen["res2"])
    torch.testing.assert_close(out["res4"], as_map(seen["block"], 4, 4))


def test_padding_only_adds_cells_at_the_border():
    """An odd-sized input gives the same features as its zero-padded version (what detectron2 feeds)."""
    torch.manual_seed(0)
    trunk = FANBackbone("fan_tiny_8_p4_hybrid").eval()
    x = torch.randn(1, 3, 90, 70)
    padded = torch.nn.functional.pad(x, (0, 96 - 70, 0, 96 - 90))
    with torch.no_grad():
        a, b = trunk(x), trunk(padded)
    for key in a:
        torch.testing.assert_close(a[key], b[key])


def test_unknown_name_and_feature_are_clear_errors():
    with pytest.raises(ValueError, match="unknown FAN model 'fan_tiny'.*fan_tiny_8_p4_hybrid"):
        FANBackbone("fan_tiny")
    with pytest.raises(ValueError, match="has no feature"):
        FANBackbone("fan_tiny_12_p16_224", ["res2"])
    with pytest.raises(ValueError, match="out_index"):
        FANBackbone("fan_tiny_8_p4_hybrid", out_index=8)
    with pytest.raises(ValueError, match="MODEL.FAN.NORM"):
        FANBackbone("fan_tiny_12_p16_224").convert_norm("GN")


def _cfg(name: str, retinanet: bool):
    cfg = add_fan_config(get_cfg())
    cfg.MODEL.FAN.NAME = name
    cfg.MODEL.FPN.OUT_CHANNELS = 32
    feats = ["res3", "res4", "res5"] if retinanet else ["res2", "res3", "res4", "res5"]
    cfg.MODEL.FAN.OUT_FEATURES = feats
    cfg.MODEL.FPN.IN_FEATURES = feats
    return cfg


@pytest.mark.parametrize("name", ["fan_tiny_8_p4_hybrid", "fan_tiny_12_p16_224"])
@pytest.mark.parametrize("retinanet", [False, True])
def test_pyramids(name, retinanet):
    torch.manual_seed(0)
    builder = "build_fan_retinanet_fpn_backbone" if retinanet else "build_fan_fpn_backbone"
    pyramid = BACKBONE_REGISTRY.get(builder)(_cfg(name, retinanet), ShapeSpec(channels=3)).eval()
    levels = range(3, 8) if retinanet else range(2, 7)
    assert {k: (s.channels, s.stride) for k, s in pyramid.output_shape().items()} == {
        f"p{i}": (32, 2**i) for i in levels}
    h, w = 160, 224  # a multiple of the size divisibility, as detectron2 pads it
    assert h % pyramid.size_divisibility == 0 and w % pyramid.size_divisibility == 0
    with torch.no_grad():
        out = pyramid(torch.randn(1, 3, h, w))
    assert list(out) == [f"p{i}" for i in levels]
    for i in levels:
        assert out[f"p{i}"].shape == (1, 32, math.ceil(h / 2**i), math.ceil(w / 2**i))


def test_retinanet_p6_comes_from_the_stride32_map():
    """Hybrids: P6 = conv(res5), the 768-ch stride-32 map (not a feature that happens to be named res5)."""
    torch.manual_seed(0)
    pyramid = BACKBONE_REGISTRY.get("build_fan_retinanet_fpn_backbone")(
        _cfg("fan_tiny_8_p4_hybrid", True), ShapeSpec(channels=3)).eval()
    assert pyramid.top_block.in_feature == "res5" and pyramid.top_block.p6.in_channels == 768
    x = torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        out = pyramid(x)
        res5 = pyramid.bottom_up(x)["res5"]
        torch.testing.assert_close(out["p6"], pyramid.top_block.p6(res5))

