"""Where fan_det keeps what it fetches and builds: one cache root, set by ``FAN_DET_CACHE``."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def cache_root() -> Path:
    """The cache folder: ``$FAN_DET_CACHE`` if set, else ``.cache/`` beside the package (git-ignored)."""
    return Path(os.environ.get("FAN_DET_CACHE") or REPO_ROOT / ".cache").resolve()


def raw_dir() -> Path:
    """Third-party files fetched from the package registry (never committed)."""
    return cache_root() / "raw"


def datasets_dir() -> Path:
    """The tiny datasets built from the raw files and from seeds."""
    return cache_root() / "datasets"
