"""Checkpoint reading and strict loading: wrappers, `module.` prefixes, readable mismatch errors, and
timm's `pretrained_cfg_overlay=dict(file=...)` with a different class count."""

import argparse

import pytest
import timm
import torch
from timm.models import load_state_dict

import fan_det.models  # noqa: F401
from fan_det.models import CheckpointMismatchError, KeyReport, load_checked, read_checkpoint
from fan_det.models.checkpoint import unwrap_state_dict

NAME = "fan_tiny_12_p16_224"


@pytest.fixture(scope="module")
def source():
    torch.manual_seed(0)
    return timm.create_model(NAME).eval()


def fresh(**kwargs):
    torch.manual_seed(1)
    return timm.create_model(NAME, **kwargs).eval()


def assert_same_weights(a, b, skip=("head.",)):
    sa, sb = a.state_dict(), b.state_dict()
    for key, value in sa.items():
        if not key.startswith(skip):
            assert torch.equal(value, sb[key]), key


@pytest.mark.parametrize("wrapper", [None, "model", "state_dict", "state_dict_ema"])
@pytest.mark.parametrize("prefix", ["", "module."])
def test_wrapped_prefixed_and_flat_checkpoints_load(tmp_path, source, wrapper, prefix):
    state = {prefix + k: v for k, v in source.state_dict().items()}
    path = tmp_path / "ckpt.pth.tar"
    torch.save({wrapper: state, "epoch": 3} if wrapper else state, path)
    sd = read_checkpoint(path)
    assert list(sd) == list(source.state_dict())
    model = fresh()
    assert load_checked(model, sd).ok
    assert_same_weights(source, model, skip=())


@pytest.mark.parametrize("wrapper", [None, "model", "state_dict", "state_dict_ema", "model_ema"])
@pytest.mark.parametrize("prefix", ["", "module.", "_orig_mod.module."])
@pytest.mark.parametrize("use_ema", [True, False])
def test_reading_agrees_with_timms_loader(tmp_path, source, wrapper, prefix, use_ema):
    """Files and in-memory checkpoints give what timm's own `load_state_dict` gives for the file."""
    weights = dict(list(source.state_dict().items())[:6])  # a few entries: only the reading is tested
    state = {prefix + k: v for k, v in weights.items()}
    raw = {k: torch.zeros_like(v) for k, v in weights.items()}  # beside an EMA wrapper
    checkpoint = {wrapper: state, "epoch": 3} if wrapper else state
    if wrapper in ("state_dict_ema", "model_ema"):
        checkpoint["state_dict"] = raw
    path = tmp_path / "ckpt.pth"
    torch.save(checkpoint, path)
    expected = load_state_dict(str(path), use_ema=use_ema)
    from_file = read_checkpoint(path, use_ema=use_ema)
    in_memory = unwrap_state_dict(torch.load(path, weights_only=True), use_ema=use_ema)
    for got in (from_file, in_memory):
        assert list(got) == list(expected)
        assert all(torch.equal(got[k], expected[k]) for k in expected)
    wanted_raw = wrapper in ("state_dict_ema", "model_ema") and not use_ema
    assert list(expected) == list(raw if wanted_raw else weights)
    assert torch.equal(expected["cls_token"], (raw if wanted_raw else weights)["cls_token"])


def test_timm_training_checkpoint_with_args_loads(tmp_path, source):
    """timm's train.py stores its argparse.Namespace beside the weights: readable without running code."""
    path = tmp_path / "checkpoint-3.pth.tar"
    torch.save({"epoch": 3, "arch": NAME, "state_dict": source.state_dict(), "version": 2,
                "args": argparse.Namespace(lr=0.1, model=NAME)}, path)
    model = fresh()
    assert load_checked(model, read_checkpoint(path)).ok
    assert_same_weights(source, model, skip=())


@pytest.mark.parametrize("content", [torch.randn(3), {"model": [torch.randn(3)]}, {"a.weight": 3}])
def test_a_file_without_a_dict_of_tensors_is_a_type_error(tmp_path, content):
    torch.save(content, tmp_path / "bad.pth")
    with pytest.raises(TypeError, match="tensor"):
        read_checkpoint(tmp_path / "bad.pth")


def test_ema_weights_are_preferred_over_raw(tmp_path, source):
    ema = {k: v + 1 if v.is_floating_point() else v for k, v in source.state_dict().items()}
    torch.save({"state_dict": source.state_dict(), "state_dict_ema": ema}, tmp_path / "c.pth")
    assert torch.equal(read_checkpoint(tmp_path / "c.pth")["cls_token"], ema["cls_token"])
    assert torch.equal(read_checkpoint(tmp_path / "c.pth", use_ema=False)["cls_token"], source.cls_token)


def test_wrong_checkpoint_gives_readable_error(source):
    sd = dict(source.state_dict())
    del sd["blocks.3.mlp.q.weight"]
    sd["blocks.99.extra"] = torch.randn(3)
    sd["head.weight"] = torch.randn(10, 192)
    model = fresh()
    before = model.cls_token.detach().clone()
    with pytest.raises(CheckpointMismatchError) as err:
        load_checked(model, sd)
    message = str(err.value)
    assert "1 missing, 1 unexpected, 1 wrong shape" in message
    assert "blocks.3.mlp.q.weight" in message and "blocks.99.extra" in message
    assert "head.weight: [10, 192] vs [1000, 192]" in message
    assert torch.equal(model.cls_token, before)  # nothing loaded on a strict failure


def test_non_strict_loads_what_fits(source):
    sd = dict(source.state_dict())
    sd["head.weight"] = torch.randn(10, 192)
    model = fresh()
    report = load_checked(model, sd, strict=False)
    assert not report.ok and report.mismatched == [("head.weight", (10, 192), (1000, 192))]
    assert_same_weights(source, model)
    assert not torch.equal(model.head.weight, source.head.weight)


def test_key_report_str_when_ok():
    assert KeyReport().ok and "matches" in str(KeyReport())


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint file"):
        read_checkpoint(tmp_path / "absent.pth")


def test_timm_file_overlay_loads_and_new_num_classes_keeps_trunk(tmp_path, source):
    path = tmp_path / "fan_vit_tiny.pth.tar"
    torch.save({"model": {"module." + k: v for k, v in source.state_dict().items()}}, path)
    loaded = timm.create_model(NAME, pretrained=True, pretrained_cfg_overlay=dict(file=str(path))).eval()
    assert_same_weights(source, loaded, skip=())
    x = torch.randn(1, 3, 32, 48)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), source(x), rtol=0, atol=0)

    overlay = dict(file=str(path))
    ten = timm.create_model(NAME, pretrained=True, pretrained_cfg_overlay=overlay, num_classes=10)
    assert ten.head.weight.shape == (10, 192)
    assert_same_weights(source, ten)


def test_timm_file_overlay_with_wrong_checkpoint_raises_readable_error(tmp_path, source):
    path = tmp_path / "wrong.pth"
    torch.save(source.state_dict(), path)
    with pytest.raises(CheckpointMismatchError, match="wrong shape"):
        timm.create_model("fan_small_12_p16_224", pretrained=True,
                          pretrained_cfg_overlay=dict(file=str(path)))
