"""Reading FAN checkpoints and loading them with a readable key report.

The authors' files are believed to be flat state_dicts, but training checkpoints wrap them (`model`,
`state_dict`, `state_dict_ema`, `model_ema`) and DistributedDataParallel (or torch.compile) prefixes
every key with `module.` (`_orig_mod.`). Files are read with timm's `load_state_dict` and prefixes
removed with its `clean_state_dict`, so both agree with timm's own loading. Loading is strict by
default: a checkpoint that does not fit raises `CheckpointMismatchError` listing the missing,
unexpected and wrong-shape keys, instead of PyTorch's one long line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from timm.models import clean_state_dict, load_state_dict
from torch import nn

__all__ = [
    "CheckpointMismatchError",
    "KeyReport",
    "check_keys",
    "load_checked",
    "read_checkpoint",
    "unwrap_state_dict",
]

# timm's `load_state_dict` picks the wrapper only for files; in-memory checkpoints (a URL's, or the one
# timm's pretrained loader hands `checkpoint_filter_fn`) are unwrapped here, in timm's order
_WRAPPER_KEYS = ("state_dict_ema", "model_ema", "state_dict", "model")
_EMA_KEYS = ("state_dict_ema", "model_ema")
_MAX_LISTED = 20


class CheckpointMismatchError(RuntimeError):
    """A checkpoint does not fit a model; the message is the readable `KeyReport`."""


@dataclass
class KeyReport:
    """How a state_dict differs from a model's: each list empty means a strict load will succeed."""

    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def __str__(self) -> str:
        if self.ok:
            return "checkpoint matches the model: every key present with the right shape"
        lines = [
            f"checkpoint does not match the model: {len(self.missing)} missing, "
            f"{len(self.unexpected)} unexpected, {len(self.mismatched)} wrong shape"
        ]
        sections = (
            ("missing (in the model, not in the checkpoint)", self.missing),
            ("unexpected (in the checkpoint, not in the model)", self.unexpected),
            (
                "wrong shape (checkpoint vs model)",
                [f"{k}: {list(ck)} vs {list(mo)}" for k, ck, mo in self.mismatched],
            ),
        )
        for title, items in sections:
            if not items:
                continue
            lines.append(f"  {title}:")
            lines += [f"    {item}" for item in items[:_MAX_LISTED]]
            if len(items) > _MAX_LISTED:
                lines.append(f"    ... and {len(items) - _MAX_LISTED} more")
        return "\n".join(lines)


def unwrap_state_dict(checkpoint: Any, use_ema: bool = True) -> dict[str, torch.Tensor]:
    """Return the flat state_dict inside a checkpoint object, `module.` / `_orig_mod.` prefixes removed."""
    if not isinstance(checkpoint, dict):
        raise TypeError(f"a checkpoint must be a dict, got {type(checkpoint).__name__}")
    for key in _WRAPPER_KEYS:
        if key in _EMA_KEYS and not use_ema:
            continue
        if isinstance(checkpoint.get(key), dict):
            checkpoint = checkpoint[key]
            break
    return _tensors_only(clean_state_dict(checkpoint))


def read_checkpoint(path_or_url: str | Path, use_ema: bool = True) -> dict[str, torch.Tensor]:
    """Load a checkpoint file (timm's loader: .pth, .safetensors, timm training checkpoints) or a URL
    (cached by torch.hub) onto the CPU as a flat state_dict; never runs code from the file."""
    source = str(path_or_url)
    if source.startswith(("http://", "https://")):
        checkpoint = torch.hub.load_state_dict_from_url(
            source, map_location="cpu", weights_only=True, check_hash=False
        )
        return unwrap_state_dict(checkpoint, use_ema=use_ema)
    if not Path(source).is_file():
        raise FileNotFoundError(f"no checkpoint file at {source}")
    try:
        state_dict = load_state_dict(source, use_ema=use_ema, weights_only=True)
    except AttributeError:  # timm's loader calls .items() on whatever the file (or its wrapper) holds
        raise TypeError(f"{source} does not hold a dict of tensors") from None
    return _tensors_only(state_dict)


def _tensors_only(state_dict: dict[str, Any]) -> dict[str, torch.Tensor]:
    for key, value in state_dict.items():
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"checkpoint entry {key!r} is a {type(value).__name__}, not a tensor")
    return state_dict


def check_keys(model: nn.Module, state_dict: dict[str, torch.Tensor]) -> KeyReport:
    """Compare a state_dict with a model's own, key by key and shape by shape."""
    expected = model.state_dict()
    report = KeyReport()
    report.missing = [k for k in expected if k not in state_dict]
    report.unexpected = [k for k in state_dict if k not in expected]
    report.mismatched = [
        (k, tuple(v.shape), tuple(expected[k].shape))
        for k, v in state_dict.items()
        if k in expected and v.shape != expected[k].shape
    ]
    return report


def load_checked(model: nn.Module, state_dict: dict[str, torch.Tensor], strict: bool = True) -> KeyReport:
    """Load a state_dict; strict raises on any difference, non-strict loads every key that fits."""
    # not timm's load_checkpoint: its strict load fails with PyTorch's one-line error, not this key report
    report = check_keys(model, state_dict)
    if strict and not report.ok:
        raise CheckpointMismatchError(str(report))
    skip = {k for k, _, _ in report.mismatched} | set(report.unexpected)
    fitting = {k: v for k, v in state_dict.items() if k not in skip}
    model.load_state_dict(fitting, strict=strict)
    return report
