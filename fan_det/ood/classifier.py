"""Build the classifier to evaluate from a timm name, a pretrained tag or ``package.module:callable``.

A callable returns an ``nn.Module`` or ``(nn.Module, data_config)``; its weights are its own business
(recorded as not randomly initialised; a ``"checkpoint"`` path in its data config is recorded with
its hash). A ``--checkpoint`` (path or URL) is loaded strictly with ``fan_det.models.checkpoint`` and
its file hash recorded.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import timm
import torch
from torch import nn

from fan_det.paths import cache_root


@dataclass
class LoadedModel:
    """A model in eval mode and what the results must say about where its weights came from."""

    model: nn.Module
    name: str
    checkpoint: str | None = None
    checkpoint_sha256: str | None = None
    random_init: bool = False
    data_config: dict = field(default_factory=dict)

    @property
    def num_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def weights_sha256(model: nn.Module) -> str:
    """Hash of every parameter and buffer (names, dtypes, shapes, bytes): identifies the weights run."""
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        t = t.detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _is_callable_spec(spec: str) -> bool:
    return ":" in spec and "://" not in spec


def _build_from_callable(spec: str) -> tuple[nn.Module, dict]:
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ValueError(f"--model {spec}: cannot import module {module_name!r}: {e}") from e
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise ValueError(f"--model {spec}: {module_name} has no callable {attr!r}")
    built = fn()
    model, data_config = built if isinstance(built, tuple) else (built, {})
    if not isinstance(model, nn.Module) or not isinstance(data_config, dict):
        raise TypeError(f"--model {spec}: the callable must return an nn.Module or (nn.Module, dict), "
                        f"got {type(built).__name__}")
    return model, data_config


def _local_checkpoint(path_or_url: str) -> Path:
    """A URL is downloaded once into the cache; a path must exist."""
    if urlparse(path_or_url).scheme in ("http", "https"):
        target = cache_root() / "checkpoints" / Path(urlparse(path_or_url).path).name
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(path_or_url, str(target), progress=True)
        return target
    path = Path(path_or_url)
    if not path.is_file():
        raise FileNotFoundError(f"--checkpoint {path_or_url}: no such file")
    return path


def load_model(spec: str, pretrained: bool = False, checkpoint: str | None = None,
               seed: int = 0) -> LoadedModel:
    """Build ``spec`` in eval mode. Random initialisation is seeded, so a random model is reproducible."""
    if pretrained and checkpoint:
        raise ValueError("--pretrained and --checkpoint are exclusive")
    torch.manual_seed(seed)
    if _is_callable_spec(spec):
        if pretrained:
            raise ValueError(f"--pretrained does not apply to {spec}: the callable chooses its weights")
        model, data_config = _build_from_callable(spec)
        random_init = False
        own_checkpoint = data_config.pop("checkpoint", None)  # a callable may say which file it loaded
    else:
        if importlib.util.find_spec("fan_det.models") is not None:
            importlib.import_module("fan_det.models")  # registers the FAN variants with timm
        try:
            model = timm.create_model(spec, pretrained=pretrained)
        except RuntimeError as e:
            if "Unknown model" in str(e):
                raise ValueError(f"--model {spec}: not a timm model name or pretrained tag, and not "
                                 "package.module:callable") from e
            raise
        data_config, random_init = {}, not pretrained and checkpoint is None
        own_checkpoint = None
    loaded = LoadedModel(model, spec, random_init=random_init, data_config=data_config)
    if own_checkpoint:
        loaded.checkpoint, loaded.checkpoint_sha256 = str(own_checkpoint), file_sha256(own_checkpoint)
    if checkpoint:
        from fan_det.models.checkpoint import CheckpointMismatchError, load_checked, read_checkpoint

        path = _local_checkpoint(checkpoint)
        try:
            load_checked(model, read_checkpoint(str(path)), strict=True)
        except CheckpointMismatchError as e:
            raise ValueError(f"--checkpoint {checkpoint} does not fit {spec}:\n{e}") from e
        loaded.checkpoint, loaded.checkpoint_sha256 = checkpoint, file_sha256(path)
    model.eval()
    return loaded
