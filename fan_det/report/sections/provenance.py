"""Where every number came from: this report's run and each input's model, weights, settings and tool
provenance."""

from __future__ import annotations

import platform

from fan_det.runtime.provenance import provenance

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
# what draws and writes the report
REPORT_PACKAGES = ("fan_det", "numpy", "scipy", "matplotlib")


def run_info(command: str, title: str | None = None) -> dict:
    """Where and when the report itself was made (``runtime.provenance``: versions, machine, UTC date)."""
    info = provenance(command, packages=REPORT_PACKAGES, platform=platform.platform())
    return {**info, "title": title} if title else info


def input_provenance(m: dict, kind: str, extra: dict) -> dict:
    """One input's entry: its file, model and weights, ``extra`` (the section's settings), its provenance."""
    entry = {"kind": kind, "file": m["source"], "model": m["name"], "labels": m["labels"]}
    entry.update({k: m["model"][k] for k in MODEL_KEYS if k in m["model"]})
    entry.update(extra)
    entry["provenance"] = m["provenance"]
    if m["notes"]:
        entry["notes"] = m["notes"]
    return entry
