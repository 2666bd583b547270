"""Load the evaluation protocols and published reference tables kept under ``eval/``.

``eval/`` is data, not code: the corruption sets and families the report groups by, and the published
numbers it prints beside ours, each table with its source and protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from fan_det.paths import REPO_ROOT

EVAL_DIR = REPO_ROOT / "eval"
REFERENCE_SCHEMA = "fan_det.reference/1"


@dataclass(frozen=True)
class ReferenceTable:
    """One published table: metric keys (``<dataset>/<metric>``) and their rows."""

    name: str
    task: str
    source: str
    protocol: str
    metrics: dict[str, str]
    rows: tuple[dict, ...]


def load_protocols(eval_dir: Path = EVAL_DIR) -> dict:
    """``eval/protocols.yaml``: corruption families, holdout set, severities, metric definitions."""
    return yaml.safe_load((eval_dir / "protocols.yaml").read_text())


def benchmark_corruptions(protocols: dict) -> list[str]:
    """The 15 benchmark corruptions, family by family."""
    return [c for family in protocols["corruptions"]["families"].values() for c in family]


def load_references(eval_dir: Path = EVAL_DIR) -> list[ReferenceTable]:
    """Every table of every ``eval/reference/*.yaml`` file (files in name order)."""
    tables = []
    for path in sorted((eval_dir / "reference").glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
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
                )
            )
    return tables
