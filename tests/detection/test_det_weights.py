"""ImageNet FAN checkpoints load into the detection trunk with exactly the expected extras, nothing else."""

from __future__ import annotations

import pytest
import timm
import torch
from detectron2.config import get_cfg
from detectron2.layers import FrozenBatchNorm2d

from fan_det.detection import (
    FANBackbone,
    add_fan_config,
    build_fan_trunk,
    load_imagenet_weights,
    resolve_weights,
)
from fan_det.models import CheckpointMismatchError


def _imagenet_checkpoint(tmp_path, name: str, wrap: bool = False):
    """A classification state_dict made by the model issue's own class, random weights, saved to disk."""
    torch.manual_seed(1)
    state = timm.create_model(name, num_classes=1000).state_dict()
    path = tmp_path / f"{name}.pth"
    torch.save({"model": {f"module.{k}": v for k, v in state.items()}} if wrap else state, path)
    return path, state


@pytest.mark.parametrize("wrap", [False, True])
def test_hybrid_checkpoint_loads_with_expected_extras(tmp_path, wrap):
    path, state = _imagenet_checkpoint(tmp_path, "fan_tiny_8_p4_hybrid", wrap)
    torch.manual_seed(2)
    trunk = FANBackbone("fan_tiny_8_p4_hybrid")
    report = load_imagenet_weights(trunk, str(path))
    assert sorted(report.missing) == ["res5_conv.bias", "res5_conv.weight"]
    assert sorted(report.unexpected) == ["head.bias", "head.weight", "norm.bias", "norm.weight"]
    assert report.mismatched == []
    loaded = trunk.model.state_dict()
    for key, value in state.items():
        if not key.startswith(("head.", "norm.")):
            assert torch.equal(loaded[key], value), key


def test_vit_checkpoint_has_nothing_missing(tmp_path):
    path, state = _imagenet_checkpoint(tmp_path, "fan_tiny_12_p16_224")
    trunk = FANBackbone("fan_tiny_12_p16_224")
    report = load_imagenet_weights(trunk, str(path))
    assert report.missing == []
    assert sorted(report.unexpected) == ["head.bias", "head.weight", "norm.bias", "norm.weight"]
    assert torch.equal(trunk.model.blocks[3].mlp.temperature, state["blocks.3.mlp.temperature"])


def test_wrong_variant_is_an_error(tmp_path):
    path, _ = _imagenet_checkpoint(tmp_path, "fan_tiny_12_p16_224")
    with pytest.raises(CheckpointMismatchError, match="fan_tiny_8_p4_hybrid detection trunk"):
        load_imagenet_weights(FANBackbone("fan_tiny_8_p4_hybrid"), str(path))


def test_unexpected_extra_or_missing_key_is_an_error(tmp_path):
    path, state = _imagenet_checkpoint(tmp_path, "fan_tiny_8_p4_hybrid")
    torch.save({**state, "head_dist.weight": torch.randn(3, 3)}, path)
    with pytest.raises(CheckpointMismatchError, match="head_dist.weight"):
        load_imagenet_weights(FANBackbone("fan_tiny_8_p4_hybrid"), str(path))
    torch.save({k: v for k, v in state.items() if k != "blocks.0.attn.q.weight"}, path)
    with pytest.raises(CheckpointMismatchError, match="blocks.0.attn.q.weight"):
        load_imagenet_weights(FANBackbone("fan_tiny_8_p4_hybrid"), str(path))


def test_config_path_loads_then_freezes_bn(tmp_path):
    path, state = _imagenet_checkpoint(tmp_path, "fan_tiny_8_p4_hybrid")
    cfg = add_fan_config(get_cfg())
    cfg.MODEL.FAN.NAME = "fan_tiny_8_p4_hybrid"
    cfg.MODEL.FAN.WEIGHTS = str(path)
    cfg.MODEL.FAN.NORM = "FrozenBN"
    trunk = build_fan_trunk(cfg)
    bn = trunk.model.blocks[0].mlp.mlp_v.dwconv.bn
    assert isinstance(bn, FrozenBatchNorm2d)
    assert torch.equal(bn.running_var, state["blocks.0.mlp.mlp_v.dwconv.bn.running_var"])
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in trunk.modules())


def test_weights_sources(tmp_path):
    assert resolve_weights("fan_small_12_p4_hybrid.in1k").endswith("/fan_hybrid_small.pth.tar")
    assert resolve_weights("https://example.org/w.pth") == "https://example.org/w.pth"
    with pytest.raises(FileNotFoundError, match="MODEL.FAN.WEIGHTS"):
        resolve_weights(str(tmp_path / "absent.pth"))
