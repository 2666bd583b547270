"""The cache key of the shared trained tiny RetinaNet (``trained_tiny_retinanet`` in tests/conftest.py)."""

from __future__ import annotations

import hashlib
import importlib
from pathlib import Path

import fan_det
from fan_det.paths import REPO_ROOT

TINY_RETINANET_CONFIG = REPO_ROOT / "configs" / "tiny" / "retinanet_fan_tiny_hybrid_synth.yaml"
LIBRARIES = ("torch", "detectron2", "timm", "numpy", "PIL")


def tiny_retinanet_key_inputs() -> tuple[list[Path], dict[str, str]]:
    """What the trained model depends on: the config chain, the code that trains it, the code that builds
    its synthetic data, and the versions of the libraries that compute it."""
    package = REPO_ROOT / "fan_det"
    files = [TINY_RETINANET_CONFIG, *sorted((REPO_ROOT / "configs").glob("Base-*.yaml")),
             package / "train.py", package / "cli.py", *sorted((package / "detection").glob("*.py")),
             *sorted((package / "models").glob("*.py")), *sorted((package / "data").glob("*.py"))]
    versions = {name: importlib.import_module(name).__version__ for name in LIBRARIES}
    return files, {"fan_det": fan_det.__version__, **versions}


def tiny_retinanet_key() -> str:
    """Hash of everything in ``tiny_retinanet_key_inputs``: a change to any of them retrains."""
    files, versions = tiny_retinanet_key_inputs()
    digest = hashlib.sha256(repr(sorted(versions.items())).encode())
    for path in files:
        digest.update(path.relative_to(REPO_ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]
