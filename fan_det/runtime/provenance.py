"""Where a number came from: package versions, command line, machine, thread budget and date."""

from __future__ import annotations

import os
import platform
import shlex
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from importlib import metadata

# distribution names whose versions every results file records (absent ones are left out)
PACKAGES = ("fan_det", "torch", "torchvision", "timm", "detectron2", "pycocotools", "numpy")
# the maintained fork first, then the original distribution of the same import name
CORRUPTION_LIBRARIES = ("imagecorruptions-imaug", "imagecorruptions")


def package_version(dist_name: str) -> str | None:
    """Installed version of a distribution, or None when it is not installed."""
    try:
        return metadata.version(dist_name)
    except metadata.PackageNotFoundError:
        return None


def corruption_library_version() -> str:
    """Version of the installed ``imagecorruptions`` (it decides every corrupted pixel)."""
    for dist in CORRUPTION_LIBRARIES:
        version = package_version(dist)
        if version is not None:
            return version
    raise RuntimeError("imagecorruptions is not installed (pip install imagecorruptions-imaug)")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def machine() -> str:
    """OS, CPU architecture and count, and the GPUs if any, in words."""
    gpus = "no GPU"
    if "torch" in sys.modules:
        import torch

        if torch.cuda.is_available():
            gpus = f"{torch.cuda.device_count()} x {torch.cuda.get_device_name(0)}"
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores, {gpus}"


def command_line(prog: str | None = None) -> str:
    """The command as a user would retype it: ``python -m <prog> <args>`` when ``prog`` is given."""
    head = ["python", "-m", prog] if prog else [os.path.basename(sys.executable)]
    return shlex.join([*head, *sys.argv[1:]])


def provenance(command: str | None = None, packages: Sequence[str] = PACKAGES, **extra: object) -> dict:
    """Versions (of ``packages``, and imagecorruptions where installed), command line, machine and UTC date
    that every results file and the report carry (plus ``extra``)."""
    versions = {name: package_version(name) for name in packages}
    try:
        versions["imagecorruptions"] = corruption_library_version()
    except RuntimeError:
        pass
    return {**{k: v for k, v in versions.items() if v is not None},
            "python": platform.python_version(), "command": command or command_line(),
            "machine": machine(), "date": now_iso(), **extra}
