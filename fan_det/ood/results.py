"""From per-image outcomes to the ``ood.json`` document (schema ``fan_det.ood/1``), and its one loader.

The schema is documented in ``docs/schemas.md``. Keys that cannot be computed are left out, never
written as null or zero.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sys
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

import numpy as np

from fan_det.metrics.classification import accuracy, aurra, calibration_error
from fan_det.metrics.imagenet_c import imagenet_c_summary
from fan_det.ood.evaluate import Outcomes

SCHEMA = "fan_det.ood/1"
SCHEMA_MAJOR = 1


def classification_metrics(name: str, out: Outcomes, imagenet: Outcomes | None = None) -> dict:
    """The ``metrics`` block of one plain dataset (everything but ImageNet-C)."""
    a = out.arrays
    if name in ("imagenet-a", "imagenet-r"):
        if not a[f"{name}/valid"].all():
            raise ValueError(f"{name}: some targets are outside the 200-class subset")
        m = {"top1": accuracy(a[f"{name}/top1"]), "top5": accuracy(a[f"{name}/top5"]),
             "top1_unmasked": accuracy(a["top1"])}
        if name == "imagenet-a":
            m["top5_unmasked"] = accuracy(a["top5"])
            m["calibration_error"] = calibration_error(a["imagenet-a/confidence"], a["imagenet-a/top1"])
            m["aurra"] = aurra(a["imagenet-a/confidence"], a["imagenet-a/top1"])
        elif imagenet is not None and imagenet.arrays["imagenet-r/valid"].any():
            valid = imagenet.arrays["imagenet-r/valid"]
            m["in200_top1"] = accuracy(imagenet.arrays["imagenet-r/top1"][valid])
            m["gap"] = m["in200_top1"] - m["top1"]
        return m
    return {"top1": accuracy(a["top1"]), "top5": accuracy(a["top5"])}


def imagenet_c_metrics(cells: Mapping[tuple[str, int], Outcomes], imagenet: Outcomes | None = None) -> dict:
    """The ``imagenet-c`` metrics block from the outcomes of each (corruption, severity) cell."""
    grid: dict[str, dict[int, float]] = {}
    for (corruption, severity), out in cells.items():
        grid.setdefault(corruption, {})[severity] = accuracy(out.arrays["top1"])
    clean = accuracy(imagenet.arrays["top1"]) if imagenet is not None else None
    return imagenet_c_summary(grid, clean)


def dataset_entry(path: str | Path, outcomes: list[Outcomes], classes_present: int, metrics: dict) -> dict:
    return {"path": str(Path(path).resolve()), "num_images": sum(o.num_images for o in outcomes),
            "num_skipped": sum(len(o.skipped) for o in outcomes), "classes_present": int(classes_present),
            "metrics": metrics}


def _version(dist_name: str) -> str | None:
    try:
        return metadata.version(dist_name)
    except metadata.PackageNotFoundError:
        return None


def provenance(command: str | None = None) -> dict:
    """Versions, command line, machine and date that every results file carries."""
    import torch

    versions = {"fan_det": _version("fan_det"), "torch": torch.__version__, "timm": _version("timm"),
                "torchvision": _version("torchvision"),
                "imagecorruptions": _version("imagecorruptions-imaug")}
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    machine = f"{platform.node()} {platform.machine()} {os.cpu_count()} cpus" + (f", {gpu}" if gpu else "")
    return {**{k: v for k, v in versions.items() if v is not None},
            "command": command or " ".join([os.path.basename(sys.executable), *sys.argv]),
            "machine": machine, "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}


def _jsonable(x):
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    return x


def write_ood_json(path: str | Path, document: dict) -> Path:
    """Write atomically, so a reader never sees half a file while datasets are still running."""
    path = Path(path)
    if document.get("schema") != SCHEMA:
        raise ValueError(f"refusing to write a document whose schema is not {SCHEMA}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(_jsonable(document), indent=2) + "\n")
    os.replace(tmp, path)
    return path


def load_ood_json(path: str | Path) -> dict:
    """Read an ``ood.json``; refuses files of another kind or an unknown major version."""
    doc = json.loads(Path(path).read_text())
    schema = doc.get("schema", "") if isinstance(doc, dict) else ""
    kind, _, major = schema.partition("/")
    if kind != "fan_det.ood":
        raise ValueError(f"{path}: not an ood.json (schema {schema!r})")
    if major != str(SCHEMA_MAJOR):
        raise ValueError(f"{path}: schema {schema} is not supported (this reader knows {SCHEMA})")
    return doc
