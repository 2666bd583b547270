"""How weights' names reach the model, worked by hand on small modules: Caffe2 model-zoo files (Python 2
pickles, optimiser ``_momentum`` blobs dropped, names converted and matched by suffix), detectron2's own
zoo files (matched by suffix, never renamed), a detector's trunk keys into a bare trunk, and an ImageNet
checkpoint's key report and log line in the checkpoint's names; an optimizer saved beside the weights
comes back on resume only."""

from __future__ import annotations

import logging
import pickle
import struct

import numpy as np
import pytest
import torch
import torch.nn as nn
from detectron2.layers import FrozenBatchNorm2d

from fan_det.detection.weights import (
    StrictDetectionCheckpointer,
    load_detector_weights,
    load_imagenet_weights,
)
from fan_det.models import CheckpointMismatchError


def _string(raw: bytes) -> bytes:
    """Python 2's 8-bit string (SHORT_BINSTRING / BINSTRING)."""
    return b"U" + bytes([len(raw)]) + raw if len(raw) < 256 else b"T" + struct.pack("<I", len(raw)) + raw


def _int(n: int) -> bytes:
    return b"J" + struct.pack("<i", n)


def _array(value: np.ndarray) -> bytes:
    """A float32 array as numpy under Python 2 pickled it: its bytes an 8-bit string."""
    value = np.ascontiguousarray(value, dtype="<f4")
    dtype = (b"cnumpy\ndtype\n(" + _string(b"f4") + _int(0) + _int(1) + b"tR(" + _int(3) + _string(b"<")
             + b"NNN" + _int(-1) + _int(-1) + _int(0) + b"tb")
    shape = b"(" + b"".join(_int(n) for n in value.shape) + b"t"
    return (b"cnumpy.core.multiarray\n_reconstruct\n(cnumpy\nndarray\n(" + _int(0) + b"t" + _string(b"b")
            + b"tR(" + _int(1) + shape + dtype + b"\x89" + _string(value.tobytes()) + b"tb")


def _dict(content: dict) -> bytes:
    items = (_string(k.encode()) + (_dict(v) if isinstance(v, dict) else _array(v)) + b"s"
             for k, v in content.items())
    return b"}" + b"".join(items)


def py2_pickle(content: dict) -> bytes:
    """A protocol-2 pickle as Python 2 wrote the Caffe2 model zoo's files (str keys, array bytes as str)."""
    return b"\x80\x02" + _dict(content) + b"."


class ResNetLike(nn.Module):
    """A detector whose trunk has detectron2's ResNet names: stem.conv1 (+ norm) and res2.0.conv1."""

    def __init__(self):
        super().__init__()
        self.backbone = nn.Module()
        self.backbone.bottom_up = nn.Module()
        self.backbone.bottom_up.stem = nn.Module()
        self.backbone.bottom_up.stem.conv1 = nn.Conv2d(3, 4, 3, bias=False)
        self.backbone.bottom_up.stem.conv1.norm = nn.GroupNorm(2, 4)
        self.backbone.bottom_up.res2 = nn.ModuleList([nn.Module()])
        self.backbone.bottom_up.res2[0].conv1 = nn.Conv2d(4, 4, 1, bias=False)


# the Caffe2 names and the model's, by detectron2's conversion rules (conv1 -> stem.conv1, bn_s/bn_b ->
# norm.weight/bias, res2_0_branch2a -> res2.0.conv1), matched to the model's keys by suffix
C2_TO_MODEL = {
    "conv1_w": "backbone.bottom_up.stem.conv1.weight",
    "res_conv1_bn_s": "backbone.bottom_up.stem.conv1.norm.weight",
    "res_conv1_bn_b": "backbone.bottom_up.stem.conv1.norm.bias",
    "res2_0_branch2a_w": "backbone.bottom_up.res2.0.conv1.weight",
}


def caffe2_blobs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    shapes = {"conv1_w": (4, 3, 3, 3), "res_conv1_bn_s": (4,), "res_conv1_bn_b": (4,),
              "res2_0_branch2a_w": (4, 4, 1, 1)}
    blobs = {name: rng.random(shape, dtype=np.float32) for name, shape in shapes.items()}
    blobs["conv1_w_momentum"] = rng.random((4, 3, 3, 3), dtype=np.float32)  # the optimiser's, not weights
    return blobs


@pytest.mark.parametrize("detection", [True, False], ids=["detection-blobs", "imagenet-flat"])
def test_a_caffe2_model_zoo_pkl_loads_every_blob_into_its_converted_name(tmp_path, detection):
    blobs = caffe2_blobs()
    path = tmp_path / "R-50.pkl"
    path.write_bytes(py2_pickle({"blobs": blobs} if detection else blobs))
    model = ResNetLike()
    report = load_detector_weights(model, str(path))
    assert report.ok
    state = model.state_dict()
    for c2_name, name in C2_TO_MODEL.items():
        assert torch.equal(state[name], torch.from_numpy(blobs[c2_name])), name


def test_a_detectron2_zoo_pkl_is_matched_by_suffix_without_caffe2_renaming(tmp_path):
    """As converted from torchvision for detectron2: its own names, an author other than Caffe2."""
    rng = np.random.default_rng(7)
    names = ["stem.conv1.weight", "stem.conv1.norm.weight", "stem.conv1.norm.bias",
             "stem.conv1.norm.running_mean", "stem.conv1.norm.running_var"]
    shapes = [(4, 3, 3, 3), (4,), (4,), (4,), (4,)]
    weights = {name: rng.random(shape, dtype=np.float32) for name, shape in zip(names, shapes, strict=True)}
    path = tmp_path / "R-50.pkl"
    zoo = {"model": weights, "__author__": "torchvision", "matching_heuristics": True}
    path.write_bytes(pickle.dumps(zoo, protocol=4))
    model = nn.Module()
    model.backbone = nn.Module()
    model.backbone.bottom_up = nn.Module()
    model.backbone.bottom_up.stem = nn.Module()
    model.backbone.bottom_up.stem.conv1 = nn.Conv2d(3, 4, 3, bias=False)
    model.backbone.bottom_up.stem.conv1.norm = FrozenBatchNorm2d(4)
    assert load_detector_weights(model, str(path)).ok
    state = model.state_dict()
    for name in names:
        assert torch.equal(state[f"backbone.bottom_up.{name}"], torch.from_numpy(weights[name])), name


def test_a_pkl_with_model_but_no_author_is_read_as_caffe2_blobs(tmp_path):
    """Only 'model' and '__author__' together mark detectron2's own zoo format (as detectron2 reads it)."""
    path = tmp_path / "zoo.pkl"
    path.write_bytes(py2_pickle({"model": {"weight": np.ones((2, 2), np.float32)}}))
    with pytest.raises(Exception) as info:
        load_detector_weights(nn.Linear(2, 2), str(path))
    assert str(info.value) == (f"{path}: entry 'model' is a dict, not a tensor; a checkpoint's 'model' must "
                               "map names to tensors")


class BareTrunk(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Module()
        self.backbone.layer = nn.Linear(2, 3)


def test_a_detectors_trunk_loads_into_a_bare_trunk(tmp_path):
    torch.manual_seed(4)
    weight, bias = torch.rand(3, 2), torch.rand(3)
    path = tmp_path / "detector.pth"
    torch.save({"model": {"backbone.bottom_up.layer.weight": weight, "backbone.bottom_up.layer.bias": bias}},
               path)
    model = BareTrunk()
    assert load_detector_weights(model, str(path)).ok
    assert torch.equal(model.backbone.layer.weight, weight) and torch.equal(model.backbone.layer.bias, bias)


def test_a_checkpoint_saved_on_a_gpu_loads_on_the_cpu(tmp_path, monkeypatch):
    torch.manual_seed(5)
    weight, bias = torch.rand(2, 2), torch.rand(2)
    path = tmp_path / "gpu.pth"
    with monkeypatch.context() as patch:  # what torch.save records for tensors on the first GPU
        patch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        torch.save({"model": {"weight": weight, "bias": bias}}, path)
    model = nn.Linear(2, 2)
    assert load_detector_weights(model, str(path)).ok
    assert torch.equal(model.weight, weight) and torch.equal(model.bias, bias)


class HandTrunk(nn.Module):
    """What ``load_imagenet_weights`` uses of a FAN trunk: its name, the timm model as ``model``, and the
    trunk's own new stride-32 conv beside it."""

    model_name = "hand_trunk"

    def __init__(self):
        super().__init__()
        self.model = nn.Module()
        self.model.patch_embed = nn.Linear(3, 4)
        self.model.blocks = nn.Sequential(nn.Linear(4, 4))
        self.res5_conv = nn.Conv2d(4, 4, 1)


def imagenet_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(6)
    return {"patch_embed.weight": torch.rand(4, 3), "patch_embed.bias": torch.rand(4),
            "blocks.0.weight": torch.rand(4, 4), "blocks.0.bias": torch.rand(4),
            "norm.weight": torch.rand(4), "head.weight": torch.rand(10, 4), "head.bias": torch.rand(10)}


def test_an_imagenet_checkpoint_is_reported_and_logged_in_its_own_names(tmp_path, caplog):
    state = imagenet_state()
    path = tmp_path / "in1k.pth"
    torch.save(state, path)
    trunk = HandTrunk()
    with caplog.at_level(logging.INFO, logger="fan_det.detection.weights"):
        report = load_imagenet_weights(trunk, str(path))
    assert report.missing == ["res5_conv.weight", "res5_conv.bias"]
    assert report.unexpected == ["norm.weight", "head.weight", "head.bias"]
    assert [r.getMessage() for r in caplog.records if r.name == "fan_det.detection.weights"] == [
        f"FAN trunk weights from {path}: 4 tensors loaded, missing (new) ['res5_conv.weight', "
        "'res5_conv.bias'], unused ['norm.weight', 'head.weight', 'head.bias']"]
    for key in ("patch_embed.weight", "patch_embed.bias", "blocks.0.weight", "blocks.0.bias"):
        assert torch.equal(trunk.model.state_dict()[key], state[key]), key


def test_an_imagenet_checkpoint_that_does_not_fit_names_each_key_as_the_checkpoint_does(tmp_path):
    state = imagenet_state()
    del state["blocks.0.bias"]
    state["patch_embed.weight"] = torch.rand(5, 3)
    state["head_dist.weight"] = torch.rand(10, 4)
    path = tmp_path / "in1k.pth"
    torch.save(state, path)
    with pytest.raises(CheckpointMismatchError) as info:
        load_imagenet_weights(HandTrunk(), str(path))
    assert str(info.value).splitlines() == [
        f"{path} does not fit the hand_trunk detection trunk: only ('res5_conv.',) may be missing and "
        "('norm.', 'head.') unused.",
        "checkpoint does not match the model: 3 missing, 4 unexpected, 1 wrong shape",
        "  missing (in the model, not in the checkpoint):",
        "    blocks.0.bias",
        "    res5_conv.weight",
        "    res5_conv.bias",
        "  unexpected (in the checkpoint, not in the model):",
        "    norm.weight",
        "    head.weight",
        "    head.bias",
        "    head_dist.weight",
        "  wrong shape (checkpoint vs model):",
        "    patch_embed.weight: [5, 3] vs [4, 3]",
    ]


def _with_optimizer(folder) -> tuple[nn.Linear, torch.optim.SGD, StrictDetectionCheckpointer]:
    model = nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return model, optimizer, StrictDetectionCheckpointer(model, str(folder), optimizer=optimizer)


def test_the_optimizer_saved_beside_the_weights_is_restored_on_resume_only(tmp_path):
    torch.manual_seed(8)
    model, optimizer, checkpointer = _with_optimizer(tmp_path)
    model(torch.rand(4, 2)).sum().backward()
    optimizer.step()
    checkpointer.save("model_final")
    momentum = optimizer.state_dict()["state"][0]["momentum_buffer"]
    fresh, fresh_optimizer, fresh_checkpointer = _with_optimizer(tmp_path)
    fresh_checkpointer.resume_or_load(str(tmp_path / "model_final.pth"), resume=False)
    assert torch.equal(fresh.weight, model.weight) and fresh_optimizer.state_dict()["state"] == {}
    fresh, fresh_optimizer, fresh_checkpointer = _with_optimizer(tmp_path)
    fresh_checkpointer.resume_or_load("", resume=True)  # the folder's last checkpoint
    assert torch.equal(fresh.weight, model.weight)
    assert torch.equal(fresh_optimizer.state_dict()["state"][0]["momentum_buffer"], momentum)
