"""Where every number came from: this report's run and each input's model, weights, settings and tool
provenance."""

from __future__ import annotations

import datetime
import platform

from fan_det.runtime.provenance import package_version

MODEL_KEYS = (
    "backbone",
    "config",
    "config_sha256",
    "weights",
    "weights_sha256",
    "checkpoint",
    "checkpoint_sha256",
    "random_init",
    "num_params",
)


def run_info(command: str, title: str | None = None) -> dict:
    """Where and when the report itself was made."""
    info = {
        "fan_det": package_version("fan_det"),
        "python": platform.python_version(),
        "numpy": package_version("numpy"),
        "matplotlib": package_version("matplotlib"),
        "machine": f"{platform.machine()} {platform.node()}",
        "platform": platform.platform(),
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": command,
    }
    return {**info, "title": title} if title else info


def input_provenance(m: dict, kind: str) -> dict:
    entry = {"kind": kind, "file": m["source"], "model": m["name"], "labels": m["labels"]}
    entry.update({k: m["model"][k] for k in MODEL_KEYS if k in m["model"]})
    if kind == "robustness":
        entry.update(dataset=m["dataset"], protocol=m["protocol"])
    elif kind == "coco_o":
        entry["dataset"] = m["dataset"]
    else:
        entry.update(preprocessing=m["preprocessing"], evaluation=m["evaluation"])
        entry["datasets"] = {
            d: {k: v for k, v in b.items() if k != "metrics"} for d, b in m["datasets"].items()
        }
    entry["provenance"] = m["provenance"]
    if m["notes"]:
        entry["notes"] = m["notes"]
    return entry
