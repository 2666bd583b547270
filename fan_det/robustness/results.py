"""``robustness.json`` (schema ``fan_det.robustness/1``, see docs/schemas.md): its writer and its loader."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from fan_det.metrics.detection import coco_c_summary
from fan_det.robustness.cache import atomic_write

SCHEMA = "fan_det.robustness/1"
CELL_KEYS = ("corruption", "severity", "num_images", "seconds", "stats")
PARTS = ("scale", "model", "dataset", "protocol", "cells", "summary", "provenance")


def summary_cells(cells: Sequence[Mapping]) -> dict[tuple[str, int], dict[str, float]]:
    """robustness.json cells as ``coco_c_summary`` input: box stats as ``AP``, mask stats as ``segm/AP``."""
    out = {}
    for cell in cells:
        flat = {}
        for task, stats in cell["stats"].items():
            flat.update({(k if task == "bbox" else f"{task}/{k}"): v for k, v in stats.items()})
        out[(cell["corruption"], int(cell["severity"]))] = flat
    return out


def robustness_document(
    *,
    model: Mapping,
    dataset: Mapping,
    protocol: Mapping,
    cells: Sequence[Mapping],
    allow_partial: bool,
    provenance: Mapping,
) -> dict:
    """Assemble ``robustness.json`` from finished cell records (keys beyond the schema's are dropped)."""
    kept = [{k: cell[k] for k in CELL_KEYS} for cell in cells]
    return {"schema": SCHEMA, "scale": "0-100", "model": dict(model), "dataset": dict(dataset),
            "protocol": dict(protocol), "cells": kept,
            "summary": coco_c_summary(summary_cells(kept), allow_partial=allow_partial),
            "provenance": dict(provenance)}


def write_robustness(path: str | os.PathLike, document: Mapping) -> None:
    """Write atomically as strict JSON (no NaN)."""
    atomic_write(Path(path), json.dumps(document, indent=1, allow_nan=False).encode())


def load_robustness(path: str | os.PathLike) -> dict:
    """Read ``robustness.json``, refusing another schema or major version and a document missing parts."""
    document = json.loads(Path(path).read_text())
    schema = str(document.get("schema", ""))
    if schema != SCHEMA:
        raise ValueError(f"{path}: schema {schema!r} is not {SCHEMA!r} (unknown kind or major version)")
    absent = [k for k in PARTS if k not in document]
    if absent:
        raise ValueError(f"{path}: missing {absent}")
    return document
