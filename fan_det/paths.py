"""Where fan_det keeps what it fetches and builds: one cache root, the user's cache folder by default.

``FAN_DET_CACHE`` wins; else ``$XDG_CACHE_HOME/fan_det``; else ``~/.cache/fan_det``. Never beside the
package, which a normal install puts in site-packages. The Makefile exports ``FAN_DET_CACHE=.cache`` in
the checkout, so ``make test`` / ``make demo`` keep everything there.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
CACHE_NAME = "fan_det"


def cache_root() -> Path:
    """The cache folder: ``$FAN_DET_CACHE``, else ``$XDG_CACHE_HOME/fan_det``, else ``~/.cache/fan_det``."""
    chosen = os.environ.get("FAN_DET_CACHE")
    if not chosen:
        user_cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        chosen = Path(user_cache) / CACHE_NAME
    return Path(chosen).expanduser().resolve()


def raw_dir() -> Path:
    """Third-party files fetched from the package registry (never committed)."""
    return cache_root() / "raw"


def datasets_dir() -> Path:
    """The tiny datasets built from the raw files and from seeds."""
    return cache_root() / "datasets"
