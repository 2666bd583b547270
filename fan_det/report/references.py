"""Load the published reference tables kept under ``eval/reference/``.

``eval/`` is data, not code: the published numbers the report prints beside ours, each table with its
source and protocol. It is installed as the package data ``fan_det.eval`` (``pyproject.toml`` maps the
folder), so a normal install reads it through ``importlib.resources``; a checkout without an install
reads the folder itself.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import yaml

from fan_det.paths import REPO_ROOT

REFERENCE_SCHEMA = "fan_det.reference/1"


def eval_dir() -> Traversable:
    """The ``eval/`` data: package data of ``fan_det.eval`` when installed so, else the checkout's folder."""
    if importlib.util.find_spec("fan_det.eval") is not None:
        return resources.files("fan_det.eval")
    return REPO_ROOT / "eval"


@dataclass(frozen=True)
class ReferenceTable:
    """One published table: metric keys (``<dataset>/<metric>``) and their rows."""

    name: str
    task: str
    source: str
    protocol: str
    metrics: dict[str, str]
    rows: tuple[dict, ...]
    protocol_name: str | None = None  # a corruption protocol of fan_det.protocol.PROTOCOLS, where one fits


def load_references(root: Traversable | Path | None = None) -> list[ReferenceTable]:
    """Every table of every ``reference/*.yaml`` file (files in name order)."""
    folder = (root or eval_dir()) / "reference"
    tables = []
    for path in sorted((p for p in folder.iterdir() if p.name.endswith(".yaml")), key=lambda p: p.name):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        if doc.get("schema") != REFERENCE_SCHEMA or doc.get("scale") != "0-100":
            raise ValueError(f"{path}: expected schema {REFERENCE_SCHEMA} on the 0-100 scale")
        for table in doc["tables"]:
            tables.append(
                ReferenceTable(
                    name=table["name"],
                    task=table["task"],
                    source=table.get("source", doc["source"]).strip(),
                    protocol=table["protocol"].strip(),
                    metrics=dict(table["metrics"]),
                    rows=tuple(table["rows"]),
                    protocol_name=table.get("protocol_name"),
                )
            )
    return tables
