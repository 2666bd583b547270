"""Content hashes: of files, bytes, plain structures and model weights (SHA-256, hex)."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from typing import Any


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike) -> str:
    """Hash of a file's bytes, read in 1 MiB chunks so large checkpoints never sit in memory twice."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_json(obj: object) -> str:
    """Hash of canonical JSON (sorted keys; non-JSON values by ``str``), for cache keys and identities."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def sha256_state_dict(state_dict: Mapping[str, Any]) -> str:
    """Hash of tensor names, dtypes, shapes and values: identifies the weights actually evaluated,
    including a seeded random initialisation that has no file."""
    import torch  # deferred: hashing files and JSON must not pull in torch

    digest = hashlib.sha256()
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()
