"""Dense features through the one feature API (`forward_intermediates`, `feature_info`, `features_only`,
`prune_intermediate_layers`) and timm's model surface."""

import pytest
import timm
import torch
from timm.optim import param_groups_weight_decay

import fan_det.models  # noqa: F401

SIZES = [(32, 32), (64, 96), (96, 48)]


@pytest.fixture(scope="module")
def hybrid():
    torch.manual_seed(0)
    return timm.create_model("fan_tiny_8_p4_hybrid").eval()


@pytest.fixture(scope="module")
def vit():
    torch.manual_seed(0)
    return timm.create_model("fan_tiny_12_p16_224").eval()


def test_feature_info_lists_convnext_stages_then_blocks(hybrid, vit):
    assert [(f["num_chs"], f["reduction"], f["module"]) for f in hybrid.feature_info] == [
        (128, 4, "patch_embed.backbone.stages.0"), (256, 8, "patch_embed.backbone.stages.1")] + [
        (192, 16, f"blocks.{i}") for i in range(8)]
    assert [(f["num_chs"], f["reduction"], f["module"]) for f in vit.feature_info] == [
        (192, 16, f"blocks.{i}") for i in range(12)]
    modules = dict(hybrid.named_modules())
    assert all(f["module"] in modules for f in hybrid.feature_info)


@pytest.mark.parametrize("size", SIZES)
def test_hybrid_maps_shapes_and_strides(hybrid, size):
    h, w = size
    block = 2 + hybrid.dense_out_index
    with torch.no_grad():
        final, maps = hybrid.forward_intermediates(torch.randn(2, 3, h, w), indices=[0, 1, block])
    assert [tuple(m.shape) for m in maps] == [
        (2, 128, h // 4, w // 4),
        (2, 256, h // 8, w // 8),
        (2, 192, h // 16, w // 16),
    ]
    assert final.shape == (2, 1 + (h // 16) * (w // 16), 192)


@pytest.mark.parametrize("size", SIZES)
def test_vit_maps_shapes_and_strides(vit, size):
    h, w = size
    with torch.no_grad():
        final, maps = vit.forward_intermediates(torch.randn(1, 3, h, w), indices=[4])
    assert [tuple(m.shape) for m in maps] == [(1, 192, h // 16, w // 16)]
    assert final.shape == (1, 1 + (h // 16) * (w // 16), 192)


def capture(model, x, index):
    """Run the classification forward, recording the ConvNeXt stages', block `index`'s and the last
    class-attention block's outputs with hooks: an account of the maps independent of the feature API."""
    seen = {}
    hooks = [
        model.blocks[index].register_forward_hook(lambda m, i, o: seen.__setitem__("block", o)),
        model.cls_attn_blocks[-1].register_forward_hook(lambda m, i, o: seen.__setitem__("final", o)),
        model.patch_embed.register_forward_hook(lambda m, i, o: seen.__setitem__("grid", o[1])),
    ]
    if model.is_hybrid:
        for k, stage in enumerate(model.patch_embed.backbone.stages):
            hooks.append(stage.register_forward_hook(lambda m, i, o, k=k: seen.__setitem__(f"stage{k}", o)))
    with torch.no_grad():
        seen["logits"] = model(x)
    for h in hooks:
        h.remove()
    return seen


def tokens(feature_map):
    return feature_map.flatten(2).transpose(1, 2)


@pytest.mark.parametrize("index", [None, 2])
def test_maps_equal_classification_forward_tokens(hybrid, index):
    x = torch.randn(2, 3, 64, 96)
    block = hybrid.dense_out_index if index is None else index
    seen = capture(hybrid, x, block)
    with torch.no_grad():
        final, maps = hybrid.forward_intermediates(x, indices=[0, 1, 2 + block])
    assert seen["grid"] == (4, 6)
    torch.testing.assert_close(maps[0], seen["stage0"], rtol=0, atol=0)
    torch.testing.assert_close(maps[1], seen["stage1"], rtol=0, atol=0)
    torch.testing.assert_close(tokens(maps[2]), seen["block"], rtol=0, atol=0)
    torch.testing.assert_close(final, hybrid.norm(seen["final"]), rtol=0, atol=0)
    torch.testing.assert_close(hybrid.forward_head(final), seen["logits"], rtol=0, atol=0)


def test_forward_intermediates_options_and_features_only(vit):
    x = torch.randn(1, 3, 64, 48)
    seen = capture(vit, x, 5)
    with torch.no_grad():
        final, inter = vit.forward_intermediates(x, indices=[5, 11])
        only = vit.forward_intermediates(x, indices=[5], intermediates_only=True, stop_early=True)
        normed = vit.forward_intermediates(x, indices=[5], norm=True, output_fmt="NLC",
                                           intermediates_only=True)
        last_two = vit.forward_intermediates(x, indices=2, intermediates_only=True)
        logits = vit.forward_head(final)
    torch.testing.assert_close(tokens(inter[0]), seen["block"], rtol=0, atol=0)
    torch.testing.assert_close(only[0], inter[0], rtol=0, atol=0)
    torch.testing.assert_close(normed[0], vit.norm(seen["block"]), rtol=0, atol=0)
    torch.testing.assert_close(last_two[1], inter[1], rtol=0, atol=0)
    torch.testing.assert_close(logits, seen["logits"], rtol=0, atol=0)

    feats = timm.create_model("fan_tiny_12_p16_224", features_only=True, out_indices=(5,)).eval()
    feats.model.load_state_dict(vit.state_dict(), strict=False)
    with torch.no_grad():
        torch.testing.assert_close(feats(x)[0], inter[0], rtol=0, atol=0)
    assert feats.feature_info.reduction() == [16] and feats.feature_info.channels() == [192]
    assert len(feats.model.blocks) == 6 and len(feats.model.cls_attn_blocks) == 0  # pruned past block 5


def test_hybrid_features_only_default_is_stride_4_8_16_with_the_detection_block(hybrid):
    feats = timm.create_model("fan_tiny_8_p4_hybrid", features_only=True).eval()
    assert feats.feature_info.reduction() == [4, 8, 16]
    assert feats.feature_info.channels() == [128, 256, 192]
    feats.model.load_state_dict(hybrid.state_dict(), strict=False)
    x = torch.randn(1, 3, 64, 96)
    seen = capture(hybrid, x, hybrid.dense_out_index)
    with torch.no_grad():
        out = feats(x)
    torch.testing.assert_close(out[0], seen["stage0"], rtol=0, atol=0)
    torch.testing.assert_close(out[1], seen["stage1"], rtol=0, atol=0)
    torch.testing.assert_close(tokens(out[2]), seen["block"], rtol=0, atol=0)
    # the large hybrid's detection block is 18 of 22: the default map is that block, not the last
    large = timm.create_model("fan_large_16_p4_hybrid", features_only=True, pretrained=False)
    assert large.out_indices == [0, 1, 20] and len(large.model.blocks) == 19


def test_stage_only_features_stop_before_the_transformer(hybrid):
    x = torch.randn(1, 3, 32, 64)
    seen = capture(hybrid, x, 0)
    with torch.no_grad():
        maps = hybrid.forward_intermediates(x, indices=[0, 1], intermediates_only=True, stop_early=True)
        nlc = hybrid.forward_intermediates(x, indices=[1], intermediates_only=True, output_fmt="NLC")
    torch.testing.assert_close(maps[1], seen["stage1"], rtol=0, atol=0)
    torch.testing.assert_close(nlc[0], tokens(seen["stage1"]), rtol=0, atol=0)


def test_prune_intermediate_layers_keeps_what_the_indices_need():
    model = timm.create_model("fan_tiny_8_p4_hybrid")
    assert model.prune_intermediate_layers([-1], prune_norm=True) == [9]
    assert len(model.blocks) == 8 and len(model.cls_attn_blocks) == 0
    assert isinstance(model.norm, torch.nn.Identity) and isinstance(model.head, torch.nn.Identity)
    assert model.prune_intermediate_layers([0, 3]) == [0, 3] and len(model.blocks) == 2
    assert model.prune_intermediate_layers([1]) == [1] and len(model.blocks) == 0


def test_bad_sizes_and_formats_are_clear_errors(hybrid):
    with pytest.raises(ValueError, match="multiples of 16"):
        hybrid.forward_intermediates(torch.randn(1, 3, 40, 32))
    with pytest.raises(ValueError, match="output_fmt"):
        hybrid.forward_intermediates(torch.randn(1, 3, 32, 32), output_fmt="NHWC")


def test_no_weight_decay_group_matcher_and_reset_classifier():
    model = timm.create_model("fan_tiny_8_p4_hybrid")
    nwd = model.no_weight_decay()
    temperatures = {f"blocks.{i}.mlp.temperature" for i in range(8)}
    pos = {"pos_embed.token_projection.weight", "pos_embed.token_projection.bias"}
    assert nwd == {"cls_token"} | pos | temperatures
    groups = param_groups_weight_decay(model, 0.05, no_weight_decay_list=nwd)
    no_decay = {id(p) for p in groups[0]["params"]}
    assert id(model.blocks[0].mlp.temperature) in no_decay
    assert id(model.pos_embed.token_projection.weight) in no_decay
    assert id(model.blocks[0].attn.q.weight) not in no_decay

    matcher = model.group_matcher()
    layer_of = timm.models.group_parameters(model, matcher)
    assert "patch_embed.backbone.stem.0.weight" in layer_of[0] and "cls_token" in layer_of[0]
    assert "blocks.0.attn.q.weight" in layer_of[1]

    model.reset_classifier(5)
    assert model.get_classifier().out_features == 5
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 5)
    model.reset_classifier(0)
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 192)
