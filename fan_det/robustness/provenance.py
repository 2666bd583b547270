"""Where a number came from: package versions, command line, machine and date."""

from __future__ import annotations

import importlib.metadata
import os
import platform

import detectron2
import timm
import torch

import fan_det
from fan_det.robustness.cache import now_iso


def corruption_library_version() -> str:
    """Version of the installed ``imagecorruptions`` (the maintained ``-imaug`` fork, or the original)."""
    for dist in ("imagecorruptions-imaug", "imagecorruptions"):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    raise RuntimeError("imagecorruptions is not installed")


def machine() -> str:
    """CPU architecture and count, and the GPUs if any, in words."""
    gpus = (f"{torch.cuda.device_count()} x {torch.cuda.get_device_name(0)}" if torch.cuda.is_available()
            else "no GPU")
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores, {gpus}"


def provenance(command: str) -> dict:
    """Package versions, the command line, the machine and the date of a run."""
    return {"fan_det": fan_det.__version__, "torch": torch.__version__, "detectron2": detectron2.__version__,
            "timm": timm.__version__, "imagecorruptions": corruption_library_version(), "command": command,
            "machine": machine(), "date": now_iso()}
