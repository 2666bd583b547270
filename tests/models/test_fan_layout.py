"""Every FAN variant: registry entries, pretrained configs, the authors' exact state_dict layout and
parameter counts, and strict save/load round trips."""

import io
from pathlib import Path

import pytest
import timm
import torch
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

import fan_det.models  # noqa: F401  registers the variants

MANIFESTS = Path(__file__).parent / "data" / "fan_keys"
URL = "https://github.com/zhoudaquan/fully_attentional_network_ckpt/releases/download/v1.0.0/"

# from the published variant table (docs/models.md): exact parameter counts and the default stride-16
# detection block
VARIANTS = {
    "fan_tiny_12_p16_224": (7_319_920, 7),
    "fan_small_12_p16_224": (28_345_336, 9),
    "fan_small_12_p16_224_se_attn": (27_452_440, 9),
    "fan_base_18_p16_224": (54_350_320, 15),
    "fan_large_24_p16_224": (80_574_100, 18),
    "fan_tiny_8_p4_hybrid": (7_467_240, 7),
    "fan_small_12_p4_hybrid": (26_117_944, 9),
    "fan_base_16_p4_hybrid": (50_475_048, 15),
    "fan_large_16_p4_hybrid": (76_855_140, 18),
}

RELEASED = {
    "fan_tiny_12_p16_224.in1k": ("fan_vit_tiny.pth.tar", 224),
    "fan_small_12_p16_224.in1k": ("fan_vit_small.pth.tar", 224),
    "fan_base_18_p16_224.in1k": ("fan_vit_base.pth.tar", 224),
    "fan_tiny_8_p4_hybrid.in1k": ("fan_hybrid_tiny.pth.tar", 224),
    "fan_small_12_p4_hybrid.in1k": ("fan_hybrid_small.pth.tar", 224),
    "fan_base_16_p4_hybrid.in1k": ("fan_hybrid_base.pth.tar", 224),
    "fan_base_16_p4_hybrid.in22k_ft_in1k": ("fan_hybrid_base_in22k_1k.pth.tar", 224),
    "fan_base_16_p4_hybrid.in22k_ft_in1k_384": ("fan_hybrid_base_in22k_1k_384.pth.tar", 384),
    "fan_large_16_p4_hybrid.in22k_ft_in1k": ("fan_hybrid_large_in22k_1k.pth.tar", 224),
    "fan_large_16_p4_hybrid.in22k_ft_in1k_384": ("fan_hybrid_large_in22k_1k_384.pth.tar", 384),
}


def read_manifest(name: str) -> list[tuple[str, list[int], str]]:
    rows = []
    for line in (MANIFESTS / f"{name}.txt").read_text().splitlines():
        key, shape, dtype = line.split("\t")
        rows.append((key, [int(s) for s in shape.strip("[]").split(",") if s.strip()], dtype))
    return rows


def test_registry_lists_every_variant_and_release():
    assert set(timm.list_models("fan_*")) == set(VARIANTS)
    assert set(timm.list_models("fan_*", pretrained=True)) == set(RELEASED)


@pytest.mark.parametrize("name", sorted(RELEASED))
def test_pretrained_cfg(name):
    file, size = RELEASED[name]
    cfg = timm.models.get_pretrained_cfg(name).to_dict()
    assert cfg["url"] == URL + file
    assert cfg["input_size"] == (3, size, size)
    assert cfg["crop_pct"] == 1.0 and cfg["interpolation"] == "bicubic"
    assert cfg["mean"] == IMAGENET_DEFAULT_MEAN and cfg["std"] == IMAGENET_DEFAULT_STD
    assert cfg["num_classes"] == 1000 and cfg["classifier"] == "head"


def test_resolve_data_config_from_model():
    model = timm.create_model("fan_tiny_8_p4_hybrid")
    cfg = timm.data.resolve_data_config({}, model=model)
    assert cfg == dict(input_size=(3, 224, 224), interpolation="bicubic", mean=IMAGENET_DEFAULT_MEAN,
                       std=IMAGENET_DEFAULT_STD, crop_pct=1.0, crop_mode="center")


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_layout_params_and_strict_round_trip(name):
    n_params, dense_index = VARIANTS[name]
    torch.manual_seed(0)
    model = timm.create_model(name).eval()

    got = [(k, list(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in model.state_dict().items()]
    assert got == read_manifest(name)
    assert sum(p.numel() for p in model.parameters()) == n_params
    assert model.dense_out_index == dense_index
    # initialisation as published: FAN layer scales 1.0, ConvNeXt layer scales 1e-6, large hybrid head
    # scaled by 1e-3
    assert torch.equal(model.blocks[0].gamma1, torch.ones(model.embed_dim))
    if "hybrid" in name:
        assert torch.allclose(model.patch_embed.backbone.stages[1].blocks[0].gamma, torch.full((256,), 1e-6))
    head_std = model.head.weight.std().item()
    assert (head_std < 1e-4) if name == "fan_large_16_p4_hybrid" else (0.01 < head_std < 0.03)

    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    with torch.device("meta"):  # an instance without values: every number must come from the file
        other = timm.create_model(name).eval()
    other.load_state_dict(torch.load(buffer, weights_only=True), strict=True, assign=True)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(other(x), model(x), rtol=0, atol=0)
