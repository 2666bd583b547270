"""FAN's building blocks against straightforward implementations of the paper's formulas (Zhou et al.
2022), on random inputs and random weights (float64, non-square token grids)."""

import math

import pytest
import timm
import torch
import torch.nn.functional as F

import fan_det.models  # noqa: F401
from fan_det.models import fan as fan_module
from fan_det.models.fan import ChannelProcessing, Fan, FanBlock, TokenMixing

H, W = 3, 5  # a non-square token grid


def randomise_(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random weights everywhere (no ones, no zeros), BatchNorm statistics included."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * 0.3)
            if name.endswith("temperature"):
                p.abs_().add_(0.5)
        for name, b in module.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=gen, dtype=b.dtype) * 0.1)
            elif name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=gen, dtype=b.dtype) + 0.5)
    return module.eval()


def gelu(x):
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))


def layer_norm(x, w, b, eps):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * w + b


def ref_mlp_v(p, prefix, x, h, w):
    """fc1 -> x + gamma * (dwconv -> GELU -> BN -> dwconv) -> fc2, no activation between fc1 and fc2."""
    y = x @ p[prefix + "fc1.weight"].T + p[prefix + "fc1.bias"]
    B, N, D = y.shape
    m = y.transpose(1, 2).reshape(B, D, h, w)
    m = F.conv2d(m, p[prefix + "dwconv.conv1.weight"], p[prefix + "dwconv.conv1.bias"], padding=1, groups=D)
    m = gelu(m)
    bn = prefix + "dwconv.bn."
    m = (m - p[bn + "running_mean"][:, None, None]) / torch.sqrt(p[bn + "running_var"][:, None, None] + 1e-5)
    m = m * p[bn + "weight"][:, None, None] + p[bn + "bias"][:, None, None]
    m = F.conv2d(m, p[prefix + "dwconv.conv2.weight"], p[prefix + "dwconv.conv2.bias"], padding=1, groups=D)
    y = y + p[prefix + "gamma"] * m.reshape(B, D, N).transpose(1, 2)
    return y @ p[prefix + "fc2.weight"].T + p[prefix + "fc2.bias"]


def ref_channel_processing(p, x, heads, h, w):
    """The paper's channel processing, one sample and one head at a time."""
    B, N, C = x.shape
    d = C // heads
    v = layer_norm(ref_mlp_v(p, "mlp_v.", x, h, w), p["norm_v.weight"], p["norm_v.bias"], 1e-5)
    q_all = x @ p["q.weight"].T + p["q.bias"]
    out = torch.empty_like(x)
    for b in range(B):
        for i in range(heads):
            cols = slice(i * d, (i + 1) * d)
            q = torch.softmax(q_all[b, :, cols], dim=0)           # (N, d), softmax over tokens
            k = torch.softmax(x[b, :, cols], dim=0).mean(dim=1)   # (N,), x itself, mean over d
            gate = torch.sigmoid(q.T @ k) * p["temperature"][i, 0, 0]  # (d,)
            out[b, :, cols] = v[b, :, cols] * gate
    return out


def ref_token_mixing(p, x, heads, prefix=""):
    """Explicit softmax(q k^T / sqrt(d)) v per head; kv's first C outputs are k, the next C are v."""
    B, N, C = x.shape
    d = C // heads
    q = x @ p[prefix + "q.weight"].T + p[prefix + "q.bias"]
    kv = x @ p[prefix + "kv.weight"].T + p[prefix + "kv.bias"]
    k, v = kv[..., :C], kv[..., C:]
    out = torch.empty_like(x)
    for i in range(heads):
        cols = slice(i * d, (i + 1) * d)
        attn = torch.softmax(q[..., cols] @ k[..., cols].transpose(1, 2) / math.sqrt(d), dim=-1)
        out[..., cols] = attn @ v[..., cols]
    return out @ p[prefix + "proj.weight"].T + p[prefix + "proj.bias"]


@pytest.mark.parametrize("dim,heads", [(32, 4), (24, 3)])
def test_channel_processing_matches_spec_formula(dim, heads):
    cp = randomise_(ChannelProcessing(dim, heads).double())
    x = torch.randn(2, H * W, dim, dtype=torch.float64)
    expected = ref_channel_processing(cp.state_dict(), x, heads, H, W)
    torch.testing.assert_close(cp(x, H, W), expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("fused", [True, False])
def test_token_mixing_matches_explicit_attention(fused):
    tm = randomise_(TokenMixing(32, num_heads=4).double())
    tm.fused_attn = fused
    x = torch.randn(2, H * W, 32, dtype=torch.float64)
    torch.testing.assert_close(tm(x), ref_token_mixing(tm.state_dict(), x, 4), rtol=1e-10, atol=1e-10)


def test_fan_block_composes_attention_and_channel_processing():
    blk = randomise_(FanBlock(32, num_heads=4).double())
    p = blk.state_dict()
    x = torch.randn(2, H * W, 32, dtype=torch.float64)
    sub = lambda prefix: {k[len(prefix):]: v for k, v in p.items() if k.startswith(prefix)}  # noqa: E731
    y = x + p["gamma1"] * ref_token_mixing(
        sub("attn."), layer_norm(x, p["norm1.weight"], p["norm1.bias"], 1e-6), 4)
    y = y + p["gamma2"] * ref_channel_processing(
        sub("mlp."), layer_norm(y, p["norm2.weight"], p["norm2.bias"], 1e-6), 4, H, W)
    torch.testing.assert_close(blk(x, H, W), y, rtol=1e-10, atol=1e-10)


def test_se_block_gates_the_mlp_over_channels():
    blk = randomise_(FanBlock(32, num_heads=4, se_mlp=True).double())
    mlp, p = blk.mlp, blk.mlp.state_dict()
    x = torch.randn(2, H * W, 32, dtype=torch.float64)
    y = ref_mlp_v(p, "", x, H, W)
    s = torch.relu(y.mean(1) @ p["se.conv_reduce.weight"][:, :, 0, 0].T + p["se.conv_reduce.bias"])
    s = torch.sigmoid(s @ p["se.conv_expand.weight"][:, :, 0, 0].T + p["se.conv_expand.bias"])
    torch.testing.assert_close(mlp(x, H, W), y * s[:, None, :], rtol=1e-10, atol=1e-10)


def ref_fourier(weight, bias, h, w, floor_freq):
    """64-channel sin/cos map (y then x; sin on even, cos on odd indices) -> 1x1 projection."""
    i = torch.arange(32, dtype=torch.float64)
    freq = 10000 ** ((2 * torch.div(i, 2, rounding_mode="floor") if floor_freq else i) / 32)
    ys = torch.arange(1, h + 1, dtype=torch.float64) / h * 2 * math.pi
    xs = torch.arange(1, w + 1, dtype=torch.float64) / w * 2 * math.pi
    feats = torch.zeros(64, h, w, dtype=torch.float64)
    for j in range(32):
        f = torch.sin if j % 2 == 0 else torch.cos
        feats[j] = f(ys / freq[j])[:, None].expand(h, w)
        feats[32 + j] = f(xs / freq[j])[None, :].expand(h, w)
    return torch.einsum("oc,chw->ohw", weight[:, :, 0, 0].double(), feats) + bias.double()[:, None, None]


@pytest.mark.parametrize("mode,floor_freq", [("classification", True), ("detection", False)])
def test_positional_encoding_formulas(mode, floor_freq):
    torch.manual_seed(0)
    model = timm.create_model("fan_tiny_12_p16_224", pos_encoding=mode)
    pe = model.pos_embed
    got = pe(2, H, W)
    assert got.shape == (2, 192, H, W)
    expected = ref_fourier(pe.token_projection.weight, pe.token_projection.bias, H, W, floor_freq)
    torch.testing.assert_close(got[1].double(), expected, rtol=1e-4, atol=1e-4)


def test_detection_positional_encoding_differs_and_keeps_keys():
    torch.manual_seed(0)
    cls_model = timm.create_model("fan_tiny_12_p16_224").eval()
    det_model = timm.create_model("fan_tiny_12_p16_224", pos_encoding="detection").eval()
    det_model.load_state_dict(cls_model.state_dict())
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        assert not torch.allclose(cls_model(x), det_model(x), atol=1e-4)
    with pytest.raises(ValueError, match="pos_encoding"):
        timm.create_model("fan_tiny_12_p16_224", pos_encoding="sine")


def set_fused(model, fused):
    for m in model.modules():
        if hasattr(m, "fused_attn"):
            m.fused_attn = fused


@pytest.mark.parametrize("build", [
    lambda: timm.create_model("fan_tiny_8_p4_hybrid", num_classes=7),
    lambda: Fan(embed_dim=64, depth=3, num_heads=4, se_mlp=True, num_classes=7),  # a small `_se_attn`
], ids=["hybrid", "se_attn"])
def test_whole_model_fused_equals_explicit_and_dtypes_agree(build):
    torch.manual_seed(0)
    model = randomise_(build(), seed=3)
    for m in model.modules():  # keep activations in a sane range after randomising
        if isinstance(m, torch.nn.LayerNorm):
            m.weight.data.abs_()
    x = torch.randn(2, 3, 32, 64)
    with torch.no_grad():
        assert all(m.fused_attn for m in model.modules() if hasattr(m, "fused_attn"))
        fused = model(x)
        set_fused(model, False)
        explicit = model(x)
        torch.testing.assert_close(fused, explicit, rtol=1e-4, atol=1e-4)
        set_fused(model, True)
        as64 = model.double()(x.double())
        assert as64.dtype == torch.float64
        torch.testing.assert_close(as64, fused.double(), rtol=1e-4, atol=1e-4)
        model.float()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16 = model(x)
        assert bf16.dtype == torch.bfloat16
        assert torch.isfinite(bf16).all()
        rel = (bf16.float() - fused).norm() / fused.norm()
        assert rel < 0.05


def test_grad_checkpointing_runs_every_block_through_checkpoint(monkeypatch):
    torch.manual_seed(0)
    model = timm.create_model("fan_tiny_8_p4_hybrid", num_classes=3).eval()
    x = torch.randn(1, 3, 32, 32)

    def grads():
        model.zero_grad()
        model(x).square().sum().backward()
        return [p.grad.clone() for p in model.parameters() if p.grad is not None]

    plain = grads()
    calls = []
    real = fan_module.checkpoint
    monkeypatch.setattr(fan_module, "checkpoint", lambda *a, **k: calls.append(1) or real(*a, **k))
    model.set_grad_checkpointing(True)
    assert all(stage.grad_checkpointing for stage in model.patch_embed.backbone.stages)
    checkpointed = grads()
    assert len(calls) == len(model.blocks) + len(model.cls_attn_blocks)
    assert len(plain) == len(checkpointed) == len(list(model.parameters()))
    for a, b in zip(plain, checkpointed, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
