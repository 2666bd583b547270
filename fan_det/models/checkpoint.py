"""Finding, reading and strictly loading checkpoints, with a readable key report.

``checkpoint_file`` is where every tool's weights come from: a path as given, a timm pretrained tag as
its URL, an ``http(s)`` URL downloaded once into ``<cache>/checkpoints/<hash of the URL>/<file name>``
(two URLs ending in the same file name never share a file; a timm/torch.hub-style ``-<sha256 prefix>.``
in the name is verified), a ``file://`` URL as its local path, any other URL scheme (``detectron2://``)
through iopath's ``PathManager``.

The authors' files are believed to be flat state_dicts, but training checkpoints wrap them (`model`,
`state_dict`, `state_dict_ema`, `model_ema`) and DistributedDataParallel (or torch.compile) prefixes
every key with `module.` (`_orig_mod.`). Files are read with timm's `load_state_dict` and prefixes
removed with its `clean_state_dict`, so both agree with timm's own loading. Loading is strict by
default: a checkpoint that does not fit raises `CheckpointMismatchError` listing the missing,
unexpected and wrong-shape keys, instead of PyTorch's one long line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.error import URLError
from urllib.parse import urlparse
from urllib.request import url2pathname

import torch
from timm.models import clean_state_dict, get_pretrained_cfg, load_state_dict
from torch import nn

from fan_det.paths import cache_root
from fan_det.runtime.hashing import sha256_file, sha256_json

__all__ = [
    "CheckpointFetchError",
    "CheckpointMismatchError",
    "CheckpointNotFoundError",
    "KeyReport",
    "check_keys",
    "checkpoint_file",
    "load_checked",
    "read_checkpoint",
    "unwrap_state_dict",
]

# timm's `load_state_dict` picks the wrapper only for files; in-memory checkpoints (a URL's, or the one
# timm's pretrained loader hands `checkpoint_filter_fn`) are unwrapped here, in timm's order
_WRAPPER_KEYS = ("state_dict_ema", "model_ema", "state_dict", "model")
_EMA_KEYS = ("state_dict_ema", "model_ema")
_MAX_LISTED = 20
_EXAMPLES = 3
# torch.hub's convention (``torch.hub.HASH_REGEX``): ``name-<first hex digits of the sha256>.ext``
HASH_IN_NAME = re.compile(r"-([a-f0-9]{8,64})\.")


class CheckpointMismatchError(RuntimeError):
    """A checkpoint does not fit a model; the message is the readable `KeyReport`."""


class CheckpointNotFoundError(FileNotFoundError):
    """A checkpoint source that is no file, no URL and no timm tag with a URL."""


class CheckpointFetchError(OSError):
    """A checkpoint URL that cannot be downloaded, or whose download fails the hash its name carries."""


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

    def one_line(self, examples: int = _EXAMPLES) -> str:
        """Counts and the first few keys of each kind, on one line."""
        parts = []
        for title, items in (("missing", self.missing), ("unexpected", self.unexpected),
                             ("wrong shape", [f"{k} {list(a)} vs {list(b)}" for k, a, b in self.mismatched])):
            shown = ", ".join(items[:examples]) + (", ..." if len(items) > examples else "")
            parts.append(f"{len(items)} {title}" + (f" (e.g. {shown})" if items else ""))
        return "; ".join(parts)


def resolve_source(source: str) -> str:
    """A local path or URL as given; a timm tag (``fan_small_12_p4_hybrid.<tag>``) becomes its URL."""
    if Path(source).expanduser().exists():
        return str(Path(source).expanduser())
    if "://" in source:
        return source
    try:
        url = get_pretrained_cfg(source).url
    except Exception:  # timm raises several types for unknown names
        url = None
    if not url:
        raise CheckpointNotFoundError(f"no checkpoint file at {source}, and it is no URL nor a timm tag with "
                                      "a URL")
    return url


def download_once(url: str) -> Path:
    """Download ``url`` once into a folder named by the URL's hash; verify a sha256 prefix in its name."""
    name = Path(urlparse(url).path).name or "checkpoint.pth"
    target = cache_root() / "checkpoints" / sha256_json(url)[:16] / name
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            torch.hub.download_url_to_file(url, str(target), progress=True)
        except (URLError, OSError, ValueError) as e:
            raise CheckpointFetchError(f"{url}: download failed ({e}); check the URL or pass a local "
                                       "file") from None
    expected = HASH_IN_NAME.search(name)
    if expected and not sha256_file(target).startswith(expected.group(1)):
        target.unlink()
        raise CheckpointFetchError(f"{url}: the downloaded file's sha256 does not start with "
                                   f"{expected.group(1)} as its name says; the download was corrupt or the "
                                   "file changed: deleted it, rerun to download again")
    return target


def checkpoint_file(source: str | Path) -> Path:
    """The checkpoint as a local file: a path, a timm tag's URL or a URL, downloaded once (module doc).

    Raises ``CheckpointNotFoundError`` for a path that does not exist and ``CheckpointFetchError`` when
    a URL cannot be fetched (offline, say) or fails its hash.
    """
    resolved = resolve_source(str(source))
    scheme = urlparse(resolved).scheme if "://" in resolved else ""
    if scheme == "file":  # a local path written as a URL: iopath would take the whole URL as a path
        resolved, scheme = url2pathname(urlparse(resolved).path), ""
    if scheme in ("http", "https"):
        return download_once(resolved)
    if scheme:
        from detectron2.utils.file_io import PathManager  # iopath's, with detectron2's URL handlers

        try:
            return Path(PathManager.get_local_path(resolved))
        except OSError as e:
            raise CheckpointFetchError(f"{resolved}: cannot fetch ({type(e).__name__}: {e})") from None
    if not Path(resolved).is_file():
        raise CheckpointNotFoundError(f"no checkpoint file at {resolved}")
    return Path(resolved)


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
    """Load a checkpoint (path, URL or timm tag: ``checkpoint_file``; timm's loader: .pth, .safetensors,
    timm training checkpoints) onto the CPU as a flat state_dict; never runs code from the file."""
    source = str(checkpoint_file(path_or_url))
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
