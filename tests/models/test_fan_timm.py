"""timm's generic model tests (its tests/test_models.py), for every FAN variant: forward, backward,
default config, features_only, forward_intermediates, TorchScript, torch.fx and FX-then-TorchScript.

Written in the spirit of timm's suite, at smaller inputs so that the nine variants stay cheap on a
2-core CPU: 64x64 for forward passes (a 4x4 token grid, 16x16 for the stride-4 ConvNeXt stage) and
32x32 for backward passes. On one thread the largest variant (80M parameters) builds in about a second
and runs these inputs in well under one, so every variant is built, run, scripted and FX-traced. Only
timm's own FX recipe (torchvision's node-path tracer, about 10 s for a large variant) and scripting the
FX graph run on one variant per code path: the variants of a code path differ only in width, depth and
initialisation, which do not change the traced graph's operations. Where timm
only checks shapes and NaNs, these tests also compare with the eager model.
"""

import math

import pytest
import timm
import torch
from timm.layers import set_layer_config
from timm.models import get_notrace_functions, get_notrace_modules
from torchvision.models.feature_extraction import (
    NodePathTracer,
    create_feature_extractor,
    get_graph_node_names,
)

import fan_det.models  # noqa: F401  registers the variants

# one variant per code path: conv stem + channel processing, conv stem + SE MLP, ConvNeXt stem
CODE_PATHS = ["fan_tiny_12_p16_224", "fan_small_12_p16_224_se_attn", "fan_tiny_8_p4_hybrid"]
VARIANTS = [
    "fan_tiny_12_p16_224", "fan_small_12_p16_224", "fan_small_12_p16_224_se_attn", "fan_base_18_p16_224",
    "fan_large_24_p16_224", "fan_tiny_8_p4_hybrid", "fan_small_12_p4_hybrid", "fan_base_16_p4_hybrid",
    "fan_large_16_p4_hybrid",
]
FWD_SIZE = (3, 64, 64)
BWD_SIZE = (3, 32, 32)


def create(name: str, **kwargs) -> torch.nn.Module:
    torch.manual_seed(0)
    return timm.create_model(name, pretrained=False, **kwargs)


def inputs(batch: int = 1, size: tuple[int, int, int] = FWD_SIZE) -> torch.Tensor:
    return torch.randn(batch, *size, generator=torch.Generator().manual_seed(1))


def fx_model(model: torch.nn.Module, train: bool = False) -> torch.nn.Module:
    """timm's `_create_fx_model`: trace with timm's leaf modules / wrapped functions and return the
    node that feeds the graph's output."""
    tracer_kwargs = dict(leaf_modules=get_notrace_modules(), autowrap_functions=get_notrace_functions(),
                         param_shapes_constant=True)
    train_nodes, eval_nodes = get_graph_node_names(model, tracer_kwargs=tracer_kwargs)
    train_return = [train_nodes[-1]]
    if train:
        graph = NodePathTracer(**tracer_kwargs).trace(model)
        nodes = list(reversed(graph.nodes))
        names = [n.name for n in nodes]
        train_return = [train_nodes[-names.index(n.name)] for n in nodes[0]._input_nodes]
    return create_feature_extractor(model, train_return_nodes=train_return,
                                    eval_return_nodes=[eval_nodes[-1]], tracer_kwargs=tracer_kwargs)


class TimmLeafTracer(torch.fx.Tracer):
    """A plain torch.fx tracer with timm's leaf modules and wrapped functions (what timm's recipe uses,
    without torchvision's per-node bookkeeping)."""

    def __init__(self):
        super().__init__(autowrap_functions=tuple(get_notrace_functions()), param_shapes_constant=True)
        self.leaves = tuple(get_notrace_modules())

    def is_leaf_module(self, m: torch.nn.Module, qualname: str) -> bool:
        return isinstance(m, self.leaves) or super().is_leaf_module(m, qualname)


def test_every_variant_is_covered():
    assert sorted(timm.list_models("fan_*")) == sorted(VARIANTS)


@pytest.mark.parametrize("name", VARIANTS)
def test_forward_and_grad_checkpointing(name):
    model = create(name).eval()
    x = inputs()
    with torch.no_grad():
        out = model(x)
        model.set_grad_checkpointing()
        again = model(x)
    assert out.shape == (1, 1000) and not torch.isnan(out).any()
    torch.testing.assert_close(again, out, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", VARIANTS)
def test_backward_reaches_every_parameter(name):
    model = create(name, num_classes=42).train()
    out = model(inputs(2, BWD_SIZE))
    out.mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing
    assert out.shape == (2, 42) and not torch.isnan(out).any()


@pytest.mark.parametrize("name", VARIANTS)
def test_default_cfg_and_classifier_reset(name):
    """timm's `test_model_default_cfgs_non_std` (FAN's features are tokens, as XCiT's and ViT's are)."""
    model = create(name).eval()
    cfg = model.pretrained_cfg
    state = model.state_dict()
    assert f"{cfg['classifier']}.weight" in state and f"{cfg['first_conv']}.weight" in state
    assert model.num_classes == 1000 and model.num_features == model.head_hidden_size > 0
    x = inputs()
    with torch.no_grad():
        features = model.forward_features(x)
        pre = model.forward_head(features, pre_logits=True)
        assert features.shape == (1, 1 + 16, model.num_features)
        assert pre.shape == (1, model.head_hidden_size)
        model.reset_classifier(0)
        assert model.num_classes == 0
        torch.testing.assert_close(model(x), pre, rtol=0, atol=0)
        headless = create(name, num_classes=0).eval()
        assert headless(x).shape == (1, model.num_features)


@pytest.mark.parametrize("name", VARIANTS)
def test_features_only(name):
    model = create(name, features_only=True).eval()
    channels, reductions = model.feature_info.channels(), model.feature_info.reduction()
    assert len(channels) >= 3  # timm: at least 3 default levels
    expected = [4, 8, 16] if "hybrid" in name else [16, 16, 16]
    assert reductions == expected
    with torch.no_grad():
        outs = model(inputs())
    assert len(outs) == len(channels)
    for c, r, o in zip(channels, reductions, outs, strict=True):
        assert o.shape == (1, c, 64 // r, 64 // r) and not torch.isnan(o).any()


@pytest.mark.parametrize("name", VARIANTS)
def test_forward_intermediates_covers_feature_info(name):
    model = create(name).eval()
    info = timm.models.FeatureInfo(model.feature_info, len(model.feature_info))
    x = inputs()
    with torch.no_grad():
        final, intermediates = model.forward_intermediates(x, output_fmt="NCHW")
        features = model.forward_features(x)
        model.set_grad_checkpointing()
        final_ckpt, _ = model.forward_intermediates(x)
    assert len(intermediates) == len(info.channels()) >= 3
    for c, r, o in zip(info.channels(), info.reduction(), intermediates, strict=True):
        assert o.shape == (1, c, math.ceil(64 / r), math.ceil(64 / r)) and not torch.isnan(o).any()
    torch.testing.assert_close(final, features, rtol=0, atol=0)
    torch.testing.assert_close(final_ckpt, features, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", VARIANTS)
def test_torchscript(name):
    with set_layer_config(scriptable=True):
        model = create(name).eval()
    scripted = torch.jit.script(model)
    x = inputs()
    with torch.no_grad():
        out = scripted(x)
        expected = model(x)
    assert out.shape == (1, 1000) and not torch.isnan(out).any()
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", VARIANTS)
def test_fx_trace(name):
    model = create(name).eval()
    traced = torch.fx.GraphModule(model, TimmLeafTracer().trace(model))
    x = inputs()
    with torch.inference_mode():
        assert torch.equal(traced(x), model(x))


@pytest.mark.parametrize("name", CODE_PATHS)
def test_timm_fx_recipe_forward_and_script(name):
    model = create(name).eval()
    x = inputs()
    with torch.inference_mode():
        expected = model(x)
        traced = fx_model(model)
        out = torch.cat(tuple(traced(x).values()))
        scripted_out = torch.cat(tuple(torch.jit.script(traced)(x).values()))
    assert torch.equal(out, expected)
    torch.testing.assert_close(scripted_out, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", CODE_PATHS)
def test_timm_fx_recipe_backward(name):
    model = create(name, num_classes=42).train()
    traced = fx_model(model, train=True)
    out = torch.cat(tuple(traced(inputs(2, BWD_SIZE)).values()))
    out.mean().backward()
    missing = [n for n, p in traced.named_parameters() if p.grad is None]
    assert not missing
    assert sum(p.numel() for p in traced.parameters()) == sum(p.numel() for p in model.parameters())
    assert out.shape == (2, 42) and not torch.isnan(out).any()
