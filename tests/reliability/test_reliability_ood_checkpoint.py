"""--checkpoint: URL downloads are keyed by the URL and hash-checked; unreadable weights are refused."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import pytest
import timm
import torch
from reliability_ood_helpers import assert_refused, class_folders, private_cache, run_cli, serve

from fan_det.ood.classifier import ModelLoadError, load_model
from fan_det.runtime.hashing import sha256_state_dict


def _vit_weights(seed: int) -> dict:
    torch.manual_seed(seed)
    return timm.create_model("test_vit").state_dict()


def test_two_urls_ending_in_the_same_name_are_two_files(tmp_path, monkeypatch):
    private_cache(tmp_path, monkeypatch)
    a, b = _vit_weights(1), _vit_weights(2)
    for folder, weights in (("a", a), ("b", b)):
        (tmp_path / "site" / folder).mkdir(parents=True)
        torch.save(weights, tmp_path / "site" / folder / "model.pth")
    with serve(tmp_path / "site") as base:
        first = load_model("test_vit", checkpoint=f"{base}/a/model.pth")
        second = load_model("test_vit", checkpoint=f"{base}/b/model.pth")
    assert first.weights_sha256 == sha256_state_dict(a)
    assert second.weights_sha256 == sha256_state_dict(b)  # not the first file reused by its name
    b_bytes = (tmp_path / "site" / "b" / "model.pth").read_bytes()
    assert second.checkpoint_sha256 == hashlib.sha256(b_bytes).hexdigest()


def test_a_hash_in_the_file_name_is_verified(tmp_path, monkeypatch):
    cache = private_cache(tmp_path, monkeypatch)
    site = tmp_path / "site"
    site.mkdir()
    torch.save(_vit_weights(3), site / "tmp.pth")
    digest = hashlib.sha256((site / "tmp.pth").read_bytes()).hexdigest()
    (site / "tmp.pth").rename(site / f"vit-{digest[:8]}.pth")
    (site / "vit-deadbeef.pth").write_bytes((site / f"vit-{digest[:8]}.pth").read_bytes())
    with serve(site) as base:
        good = load_model("test_vit", checkpoint=f"{base}/vit-{digest[:8]}.pth")
        assert good.checkpoint_sha256 == digest
        with pytest.raises(ModelLoadError, match="does not start with deadbeef"):
            load_model("test_vit", checkpoint=f"{base}/vit-deadbeef.pth")
    assert not list(cache.rglob("vit-deadbeef.pth"))  # the bad download is not kept


@pytest.mark.parametrize("content", [b"", b"these are not weights\n", bytes(range(256)) * 8],
                         ids=["empty", "text", "garbage"])
def test_unreadable_checkpoint_is_one_error_line(tmp_path, capsys, content):
    path = tmp_path / "ckpt.pth"
    path.write_bytes(content)
    images = class_folders(tmp_path / "val", {1: 1})
    code, err = run_cli(["--model", "test_vit", "--checkpoint", str(path), "--out", str(tmp_path / "out"),
                         "--dataset", f"imagenet={images}"], capsys)
    assert_refused(code, err, "--checkpoint", "not a readable weights file", "torch.save(model.state_dict()")


def test_checkpoint_with_non_tensor_entries_is_refused(tmp_path, capsys):
    weights = {**_vit_weights(0), "epoch": 3}
    torch.save(weights, tmp_path / "ckpt.pth")
    images = class_folders(tmp_path / "val", {1: 1})
    code, err = run_cli(["--model", "test_vit", "--checkpoint", str(tmp_path / "ckpt.pth"),
                         "--out", str(tmp_path / "out"), "--dataset", f"imagenet={images}"], capsys)
    assert_refused(code, err, "'epoch'", "not a tensor", "state_dict")


def test_checkpoint_of_another_architecture_is_one_line(tmp_path, capsys):
    torch.save(torch.nn.Linear(3, 4).state_dict(), tmp_path / "linear.pth")
    images = class_folders(tmp_path / "val", {1: 1})
    code, err = run_cli(["--model", "test_vit", "--checkpoint", str(tmp_path / "linear.pth"),
                         "--out", str(tmp_path / "out"), "--dataset", f"imagenet={images}"], capsys)
    assert_refused(code, err, "does not fit test_vit", "missing", "unexpected")


def raising_builder():
    raise RuntimeError("weights server unreachable")


def not_a_model_builder():
    return {"weights": 1}


@pytest.mark.parametrize("target,needle", [
    ("raising_builder", "raised RuntimeError: weights server unreachable"),
    ("not_a_model_builder", "must return an nn.Module"),
])
def test_bad_model_callable_is_one_error_line(tmp_path, capsys, target, needle):
    images = class_folders(tmp_path / "val", {1: 1})
    code, err = run_cli(["--model", f"test_reliability_ood_checkpoint:{target}", "--out", str(tmp_path / "o"),
                         "--dataset", f"imagenet={images}"], capsys)
    assert_refused(code, err, needle)
    assert not (tmp_path / "o" / "ood.json").exists()


def test_pretrained_weights_that_cannot_be_fetched_are_one_error_line(tmp_path, capsys, monkeypatch):
    def offline(*args, **kwargs):
        raise ConnectionError("Failed to resolve 'huggingface.co'\nretries exhausted")

    monkeypatch.setattr(timm, "create_model", offline)
    images = class_folders(tmp_path / "val", {1: 1})
    code, err = run_cli(["--model", "test_vit", "--pretrained", "--out", str(tmp_path / "o"),
                         "--dataset", f"imagenet={images}"], capsys)
    assert_refused(code, err, "--pretrained", "ConnectionError: Failed to resolve", "--checkpoint")


def test_pretrained_cfg_weights_are_hash_checked(tmp_path, monkeypatch):
    """A pretrained cfg whose URL names a sha256 prefix: timm's download is verified against it."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    site = tmp_path / "site"
    site.mkdir()
    torch.save(_vit_weights(4), site / "w.pth")
    digest = hashlib.sha256((site / "w.pth").read_bytes()).hexdigest()
    for name in (f"vit-{digest[:8]}.pth", "vit-deadbeef.pth"):
        (site / name).write_bytes((site / "w.pth").read_bytes())
    create = timm.create_model
    with serve(site) as base:
        for name in (f"vit-{digest[:8]}.pth", "vit-deadbeef.pth"):
            overlay = {"url": f"{base}/{name}", "hf_hub_id": ""}  # the URL, not the Hugging Face hub
            with_url = functools.partial(create, pretrained_cfg_overlay=overlay)
            monkeypatch.setattr(timm, "create_model", with_url)
            if "deadbeef" in name:
                with pytest.raises(ModelLoadError, match='invalid hash value.*expected "deadbeef"'):
                    load_model("test_vit", pretrained=True)
            else:
                loaded = load_model("test_vit", pretrained=True)
                assert loaded.weights_sha256 == sha256_state_dict(_vit_weights(4)) and not loaded.random_init


def test_every_weights_loader_fetches_a_url_once_into_the_same_file(tmp_path, monkeypatch):
    """eval_ood's --checkpoint, the detection tools' --weights and read_checkpoint share one resolver."""
    from fan_det.models.checkpoint import read_checkpoint
    from fan_det.ood.classifier import local_checkpoint
    from fan_det.robustness.detector import local_weights

    cache = private_cache(tmp_path, monkeypatch)
    weights = _vit_weights(4)
    (tmp_path / "site").mkdir()
    torch.save(weights, tmp_path / "site" / "w.pth")
    with serve(tmp_path / "site") as base:
        url = f"{base}/w.pth"
        paths = {local_checkpoint(url), Path(local_weights(url))}
        state = read_checkpoint(url)
    (only,) = paths
    assert list(cache.rglob("*.pth")) == [only] and only.is_relative_to(cache / "checkpoints")
    assert only.read_bytes() == (tmp_path / "site" / "w.pth").read_bytes()
    assert sha256_state_dict(state) == sha256_state_dict(weights)
