"""Small helpers shared by the tiny COCO-format builders: deterministic JSON and atomic folders."""

from __future__ import annotations

import fcntl
import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils


def write_json(path: Path, obj: dict) -> None:
    """Byte-stable JSON: sorted keys, fixed separators, trailing newline."""
    path.write_text(json.dumps(obj, sort_keys=True, indent=1) + "\n")


def mask_to_rle(mask: np.ndarray) -> dict:
    """COCO compressed RLE of a boolean HxW mask, JSON-serialisable."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def build_once(target: Path, build: Callable[[Path], None], version: str) -> Path:
    """Run ``build(staging_dir)`` unless ``target`` holds a finished build of ``version``.

    The build happens in a sibling temporary folder that is renamed into place, so an interrupted build
    never leaves a half-written dataset behind; a lock file beside it makes concurrent callers (two
    evaluations, parallel tests) wait for one build instead of replacing a folder another one is reading.
    """
    marker = target / ".complete"
    if marker.exists() and marker.read_text() == version:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists() and marker.read_text() == version:  # built while this caller waited
            return target
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
        try:
            build(staging)
            (staging / ".complete").write_text(version)
            if target.exists():
                shutil.rmtree(target)
            staging.rename(target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            if not marker.exists() and target.exists() and not any(target.iterdir()):
                target.rmdir()
            raise
    return target
