"""Dense features (`forward_dense`, `forward_intermediates`, `features_only`) and timm's model surface."""

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


@pytest.mark.parametrize("size", SIZES)
def test_hybrid_dense_shapes_and_strides(hybrid, size):
    h, w = size
    with torch.no_grad():
        out = hybrid.forward_dense(torch.randn(2, 3, h, w))
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "stage1": (2, 128, h // 4, w // 4),
        "stage2": (2, 256, h // 8, w // 8),
        "block": (2, 192, h // 16, w // 16),
        "final": (2, 192, h // 16, w // 16),
    }


@pytest.mark.parametrize("size", SIZES)
def test_vit_dense_shapes_and_strides(vit, size):
    h, w = size
    with torch.no_grad():
        out = vit.forward_dense(torch.randn(1, 3, h, w), out_index=4)
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "block": (1, 192, h // 16, w // 16),
        "final": (1, 192, h // 16, w // 16),
    }


def capture(model, x, index):
    """Run the classification forward, recording block `index`'s and the last class-attention outputs."""
    seen = {}
    hooks = [
        model.blocks[index].register_forward_hook(lambda m, i, o: seen.__setitem__("block", o)),
        model.cls_attn_blocks[-1].register_forward_hook(lambda m, i, o: seen.__setitem__("final", o)),
        model.patch_embed.register_forward_hook(lambda m, i, o: seen.__setitem__("grid", o[1])),
    ]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return seen


def tokens(feature_map):
    return feature_map.flatten(2).transpose(1, 2)


@pytest.mark.parametrize("index", [None, 2])
def test_dense_maps_equal_classification_forward_tokens(hybrid, index):
    x = torch.randn(2, 3, 64, 96)
    block = hybrid.dense_out_index if index is None else index
    seen = capture(hybrid, x, block)
    with torch.no_grad():
        out = hybrid.forward_dense(x, out_index=index)
        stages = hybrid.patch_embed.backbone(x)
    assert seen["grid"] == (4, 6)
    torch.testing.assert_close(tokens(out["block"]), seen["block"], rtol=0, atol=0)
    torch.testing.assert_close(tokens(out["final"]), seen["final"][:, 1:], rtol=0, atol=0)
    torch.testing.assert_close(out["stage1"], stages[0], rtol=0, atol=0)
    torch.testing.assert_close(out["stage2"], stages[1], rtol=0, atol=0)


def test_forward_intermediates_and_features_only_match_dense(vit):
    x = torch.randn(1, 3, 64, 48)
    with torch.no_grad():
        dense = vit.forward_dense(x, out_index=5)
        final, inter = vit.forward_intermediates(x, indices=[5, 11])
        only = vit.forward_intermediates(x, indices=[5], intermediates_only=True, stop_early=True)
        logits = vit.forward_head(final)
        expected_logits = vit(x)
    torch.testing.assert_close(inter[0], dense["block"], rtol=0, atol=0)
    torch.testing.assert_close(only[0], dense["block"], rtol=0, atol=0)
    torch.testing.assert_close(logits, expected_logits, rtol=0, atol=0)

    feats = timm.create_model("fan_tiny_12_p16_224", features_only=True, out_indices=(5,)).eval()
    feats.model.load_state_dict(vit.state_dict(), strict=False)
    with torch.no_grad():
        torch.testing.assert_close(feats(x)[0], dense["block"], rtol=0, atol=0)
    assert feats.feature_info.reduction() == [16] and feats.feature_info.channels() == [192]


def test_dense_rejects_bad_sizes_and_indices(hybrid):
    with pytest.raises(ValueError, match="multiples of 16"):
        hybrid.forward_dense(torch.randn(1, 3, 40, 32))
    with pytest.raises(ValueError, match="out_index"):
        hybrid.forward_dense(torch.randn(1, 3, 32, 32), out_index=8)


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
