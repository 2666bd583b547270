"""The segmentation layout of the FAN trunk: the detection trunk's first three maps, then the patch tokens
after class attention at stride 16 with C channels (the authors' segmentation configs' in_channels)."""

from __future__ import annotations

import pytest
import torch

from fan_det.detection import FANBackbone

# the authors' segmentation configs, decode_head in_channels, and the stride of their fourth map
PUBLISHED = {"fan_tiny_8_p4_hybrid": [128, 256, 192, 192], "fan_small_12_p4_hybrid": [128, 256, 384, 384]}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_channels_and_strides_are_the_published_ones(name):
    with torch.device("meta"):
        trunk = FANBackbone(name, layout="segmentation")
    shapes = trunk.output_shape()
    assert [s.channels for s in shapes.values()] == PUBLISHED[name]
    assert [s.stride for s in shapes.values()] == [4, 8, 16, 16]
    assert not hasattr(trunk, "res5_conv")


def test_first_three_maps_are_the_detection_trunks_and_res5_the_final_tokens():
    torch.manual_seed(0)
    detection = FANBackbone("fan_tiny_8_p4_hybrid").eval()
    segmentation = FANBackbone("fan_tiny_8_p4_hybrid", layout="segmentation").eval()
    # same parameters (the segmentation trunk lacks only the stride-32 conv)
    missing = segmentation.load_state_dict(detection.state_dict(), strict=False)
    assert not missing.missing_keys and missing.unexpected_keys == ["res5_conv.weight", "res5_conv.bias"]
    x = torch.randn(2, 3, 70, 100)
    seen = {}
    hook = detection.model.cls_attn_blocks[-1].register_forward_hook(lambda m, i, o: seen.__setitem__("f", o))
    with torch.no_grad():
        det, seg = detection(x), segmentation(x)
    hook.remove()
    for key in ("res2", "res3", "res4"):
        assert torch.equal(seg[key], det[key])
    tokens = seen["f"][:, 1:]  # padded to 96 x 128: a 6 x 8 token grid
    torch.testing.assert_close(seg["res5"], tokens.transpose(1, 2).reshape(2, 192, 6, 8))
    torch.testing.assert_close(det["res5"], detection.res5_conv(seg["res5"]))


def test_vit_variants_have_no_segmentation_layout():
    with pytest.raises(ValueError, match="segmentation layout needs a hybrid"):
        FANBackbone("fan_tiny_12_p16_224", layout="segmentation")
