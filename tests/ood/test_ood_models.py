"""Model specs (timm name, module:callable, checkpoint) and preprocessing resolution."""

import hashlib

import pytest
import timm
import torch
from ood_helpers import plain_transform
from PIL import Image

from fan_det.ood.classifier import ModelLoadError, load_model
from fan_det.ood.preprocess import build_transform, resolve_preprocessing
from fan_det.runtime.hashing import sha256_state_dict


def test_preprocessing_follows_the_model_then_the_callable_then_overrides():
    model = timm.create_model("test_vit")
    prep = resolve_preprocessing(model)
    assert prep == {"input_size": [3, 160, 160], "crop_pct": 0.95, "interpolation": "bicubic",
                    "mean": [0.5] * 3, "std": [0.5] * 3, "crop_mode": "center"}
    prep = resolve_preprocessing(model, {"crop_pct": 0.8, "interpolation": "bilinear"},
                                 {"img_size": 128, "crop_pct": None, "mean": [0.1, 0.2, 0.3]})
    assert prep["input_size"] == [3, 128, 128] and prep["crop_pct"] == 0.8
    assert prep["interpolation"] == "bilinear" and prep["mean"] == [0.1, 0.2, 0.3]


def test_transform_equals_resize_centre_crop_normalise(ood_sets):
    prep = {"input_size": [3, 200, 200], "crop_pct": 0.8, "interpolation": "bicubic", "mean": [0.4, 0.5, 0.6],
            "std": [0.2, 0.25, 0.3], "crop_mode": "center"}
    img = Image.open(next(ood_sets["imagenet"].rglob("*.jpg"))).convert("RGB")
    expected = plain_transform(200, 0.8, "bicubic", prep["mean"], prep["std"])(img)
    assert torch.equal(build_transform(prep)(img), expected)


def test_random_init_is_seeded_and_recorded():
    a, b = load_model("test_vit"), load_model("test_vit")
    assert a.random_init and a.weights_sha256 == b.weights_sha256 == sha256_state_dict(b.model.state_dict())
    assert load_model("test_vit", seed=1).weights_sha256 != a.weights_sha256
    assert a.num_params == sum(p.numel() for p in timm.create_model("test_vit").parameters())
    assert not a.model.training


def test_checkpoint_is_loaded_strictly_and_hashed(tmp_path):
    torch.manual_seed(5)
    source = timm.create_model("test_vit")
    path = tmp_path / "ckpt.pth"
    torch.save({"state_dict": source.state_dict()}, path)
    loaded = load_model("test_vit", checkpoint=str(path))
    assert not loaded.random_init and loaded.checkpoint == str(path)
    assert loaded.checkpoint_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert loaded.weights_sha256 == sha256_state_dict(source.state_dict())
    partial = dict(source.state_dict())
    partial.pop("head.weight")
    torch.save(partial, tmp_path / "partial.pth")
    with pytest.raises(ModelLoadError, match="head.weight"):
        load_model("test_vit", checkpoint=str(tmp_path / "partial.pth"))


def test_bad_specs_are_explained(tmp_path):
    with pytest.raises(ModelLoadError, match="not a timm model"):
        load_model("no_such_model_xyz")
    with pytest.raises(ModelLoadError, match="cannot import"):
        load_model("no_such_pkg.mod:build")
    with pytest.raises(ModelLoadError, match="no callable"):
        load_model("fan_det.paths:nothing_here")
    with pytest.raises(ModelLoadError, match="nn.Module"):
        load_model("fan_det.paths:raw_dir")
    with pytest.raises(ModelLoadError, match="--pretrained"):
        load_model("ood_helpers:build_tiny_classifier", pretrained=True)
    with pytest.raises(ModelLoadError, match="no such file"):
        load_model("test_vit", checkpoint=str(tmp_path / "missing.pth"))


def test_name_and_backbone_default_from_the_spec_and_can_be_given():
    tiny = load_model("ood_helpers:build_tiny_classifier")
    assert tiny.name == tiny.backbone == "ood_helpers.build_tiny_classifier"
    vit = load_model("test_vit", name="ViT test", backbone="vit_test.in1k")
    assert vit.block()["name"] == "ViT test" and vit.block()["backbone"] == "vit_test.in1k"
    assert load_model("test_vit").block()["backbone"] == "test_vit"
