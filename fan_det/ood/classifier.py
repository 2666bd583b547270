"""Build the classifier to evaluate from a timm name, a pretrained tag or ``package.module:callable``.

A callable returns an ``nn.Module`` or ``(nn.Module, data_config)``; its weights are its own business
(recorded as not randomly initialised; a ``"checkpoint"`` path in its data config is recorded with
its hash). A ``--checkpoint`` (path or URL) is loaded strictly and its file hash recorded. A URL is
downloaded once into the cache, its hash checked (``fan_det.models.checkpoint.checkpoint_file``).
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import timm
import torch
from timm.models import set_pretrained_check_hash
from torch import nn

from fan_det.runtime.hashing import sha256_file, sha256_state_dict


class ModelLoadError(ValueError):
    """The model or its weights cannot be built as asked (the message names the fix)."""


@dataclass
class LoadedModel:
    """A model in eval mode and what the results must say about it and where its weights came from."""

    model: nn.Module
    spec: str
    name: str
    backbone: str
    checkpoint: str | None = None
    checkpoint_sha256: str | None = None
    random_init: bool = False
    data_config: dict = field(default_factory=dict)

    @property
    def num_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    @cached_property
    def weights_sha256(self) -> str:
        """Hash of every parameter and buffer: identifies the weights run, a seeded random init included."""
        return sha256_state_dict(self.model.state_dict())

    def block(self) -> dict:
        """The ``model`` block of ``ood.json``."""
        return {"name": self.name, "spec": self.spec, "backbone": self.backbone,
                "checkpoint": self.checkpoint, "checkpoint_sha256": self.checkpoint_sha256,
                "weights_sha256": self.weights_sha256,
                "random_init": self.random_init, "num_params": self.num_params}


def is_callable_spec(spec: str) -> bool:
    return ":" in spec and "://" not in spec


def default_name(spec: str) -> str:
    """``fan_det.zoo.efficientnet_lite0:build`` -> ``efficientnet_lite0``; a timm name stays as it is."""
    if not is_callable_spec(spec):
        return spec
    module, _, attr = spec.partition(":")
    last = module.rpartition(".")[2]
    return last if attr == "build" else f"{last}.{attr}"


def _build_from_callable(spec: str) -> tuple[nn.Module, dict]:
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ModelLoadError(f"--model {spec}: cannot import module {module_name!r}: {e}") from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise ModelLoadError(f"--model {spec}: {module_name} has no callable {attr!r}")
    try:
        built = fn()
    except Exception as e:  # whatever the user's builder raises, it is reported as one line
        raise ModelLoadError(f"--model {spec}: the callable raised {type(e).__name__}: {e}") from None
    model, data_config = built if isinstance(built, tuple) and len(built) == 2 else (built, {})
    if not isinstance(model, nn.Module) or not isinstance(data_config, dict):
        raise ModelLoadError(f"--model {spec}: the callable must return an nn.Module or (nn.Module, dict), "
                             f"got {type(built).__name__}")
    return model, data_config


def _build_from_timm(spec: str, pretrained: bool) -> nn.Module:
    if importlib.util.find_spec("fan_det.models") is not None:
        importlib.import_module("fan_det.models")  # registers the FAN variants with timm
    if pretrained:
        set_pretrained_check_hash(True)  # timm then verifies a sha256 prefix in its weights' file name
    try:
        return timm.create_model(spec, pretrained=pretrained)
    except RuntimeError as e:
        if "Unknown model" in str(e):
            raise ModelLoadError(f"--model {spec}: not a timm model name or pretrained tag, and not "
                                 "package.module:callable") from None
        if not pretrained:
            raise
        error = e
    except OSError as e:  # no network, no such file on the hub, a full disk
        error = e
    first_line = (str(error).strip().splitlines() or [""])[0]
    raise ModelLoadError(f"--model {spec} --pretrained: timm could not fetch, verify or load its weights "
                         f"({type(error).__name__}: {first_line}); check the network, or pass "
                         "--checkpoint") from None


def _timm_backbone(spec: str, model: nn.Module, pretrained: bool) -> str:
    """The timm name with the pretrained tag timm resolved (``convnext_tiny`` -> ``convnext_tiny.fb_in1k``)"""
    cfg = getattr(model, "pretrained_cfg", None) or {}
    if pretrained and "." not in spec and cfg.get("tag"):
        return f"{spec}.{cfg['tag']}"
    return spec


def local_checkpoint(path_or_url: str) -> Path:
    """``--checkpoint`` as a local file (``fan_det.models.checkpoint.checkpoint_file``)."""
    from fan_det.models.checkpoint import CheckpointFetchError, CheckpointNotFoundError, checkpoint_file

    try:
        return checkpoint_file(path_or_url)
    except CheckpointNotFoundError:
        raise ModelLoadError(f"--checkpoint {path_or_url}: no such file") from None
    except CheckpointFetchError as e:
        raise ModelLoadError(f"--checkpoint {e}") from None


def _read_state_dict(path: Path, source: str) -> dict[str, torch.Tensor]:
    from fan_det.models.checkpoint import read_checkpoint

    try:
        return read_checkpoint(str(path))
    except TypeError as e:  # a dict holding something other than tensors, or not a dict at all
        raise ModelLoadError(f"--checkpoint {source}: {e}; expected a state_dict of tensors (or a dict "
                             "holding one under 'model', 'state_dict' or 'state_dict_ema')") from None
    except Exception as e:  # torch.load's errors vary by what the bytes are (text, garbage, empty, pickles)
        raise ModelLoadError(f"--checkpoint {source}: not a readable weights file ({type(e).__name__}): "
                             "expected a file written by torch.save holding only tensors and plain "
                             "containers; re-save it with torch.save(model.state_dict(), path)") from None


def _load_checkpoint(model: nn.Module, spec: str, source: str) -> str:
    """Load ``source`` strictly into ``model``; returns the file's sha256."""
    from fan_det.models.checkpoint import CheckpointMismatchError, check_keys, load_checked

    path = local_checkpoint(source)
    state_dict = _read_state_dict(path, source)
    try:
        load_checked(model, state_dict)
    except CheckpointMismatchError:
        report = check_keys(model, state_dict)
        raise ModelLoadError(f"--checkpoint {source} does not fit {spec}: {report.one_line()}; pass the "
                             "checkpoint of this architecture") from None
    return sha256_file(path)


def load_model(spec: str, pretrained: bool = False, checkpoint: str | None = None, seed: int = 0,
               name: str | None = None, backbone: str | None = None) -> LoadedModel:
    """Build ``spec`` in eval mode. Random initialisation is seeded, so a random model is reproducible."""
    if pretrained and checkpoint:
        raise ModelLoadError("--pretrained and --checkpoint are exclusive")
    torch.manual_seed(seed)
    own_checkpoint = None
    if is_callable_spec(spec):
        if pretrained:
            raise ModelLoadError(f"--pretrained does not apply to {spec}: the callable chooses its weights")
        model, data_config = _build_from_callable(spec)
        random_init, default_backbone = False, default_name(spec)
        own_checkpoint = data_config.pop("checkpoint", None)  # a callable may say which file it loaded
    else:
        model = _build_from_timm(spec, pretrained)
        data_config, random_init = {}, not pretrained and checkpoint is None
        default_backbone = _timm_backbone(spec, model, pretrained)
    loaded = LoadedModel(model, spec, name or default_name(spec), backbone or default_backbone,
                         random_init=random_init, data_config=data_config)
    if own_checkpoint:
        loaded.checkpoint, loaded.checkpoint_sha256 = str(own_checkpoint), sha256_file(own_checkpoint)
    if checkpoint:
        loaded.checkpoint, loaded.checkpoint_sha256 = checkpoint, _load_checkpoint(model, spec, checkpoint)
    model.eval()
    return loaded
