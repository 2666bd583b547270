"""What every section shares: model entries with their labels, table rows of a model, names and order,
key-value listings."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence

from fan_det.protocol import BENCHMARK, CLEAN, SEVERITIES
from fan_det.report.inputs import ResultFile
from fan_det.report.tables import row

RANDOM_LABEL = "random weights"
GRID_CELLS = len(BENCHMARK) * len(SEVERITIES)  # the 15 x 5 grid mPC and mCE are defined on


def ordered(keys: Iterable, order: Iterable) -> list:
    """``keys`` in ``order`` first, the rest sorted."""
    keys, order = list(keys), list(order)
    return [k for k in order if k in keys] + sorted(k for k in keys if k not in order)


def slug(name: str) -> str:
    """A table id part: HTML ids may not hold whitespace."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name)


def display(name: str, labels: list[str]) -> str:
    return name + "".join(f" [{label}]" for label in labels)


def skipped_labels(dataset: Mapping) -> list[str]:
    """``["N images skipped"]`` where a run left unreadable images out (``--skip-bad``): the dataset
    block's ``num_skipped``, or its domains' or conditions' together; else nothing."""
    parts = [dataset, *(block for group in ("domains", "conditions")
                        for block in dataset.get(group, {}).values())]
    count = sum(int(block.get("num_skipped", 0)) for block in parts)
    return [f"{count} image{'s' if count > 1 else ''} skipped"] if count else []


def model_entry(rf: ResultFile, labels: list[str], partial: bool) -> dict:
    """What every model of the report carries: name, backbone, labels (the images a detection or
    segmentation run skipped among them), flags, source and provenance."""
    model = rf.doc["model"]
    labels = labels + skipped_labels(rf.doc.get("dataset", {}))
    return {
        "name": rf.model_name,
        "backbone": model.get("backbone") or rf.model_name,
        "display": display(rf.model_name, labels),
        "labels": labels,
        "random_init": bool(model.get("random_init")),
        "partial": partial,
        "source": str(rf.path),
        "notes": rf.notes,
        "model": model,
        "provenance": rf.doc.get("provenance", {}),
    }


def model_row(m: dict, values: list, intervals: list | None = None, label: str | None = None) -> dict:
    """A row of ours: labelled with the model's display name, unranked when its weights are random."""
    return row(label or m["display"], values, m["partial"], ranked=not m["random_init"], intervals=intervals)


def main_tables(block: dict) -> list[dict]:
    """A section's tables that open it (the rest go to the appendix)."""
    return [t for t in block["tables"] if t["section"] == "main"]


# nested blocks listed key by key in a key-value listing
LISTED_BLOCKS = ("provenance", "protocol", "dataset", "preprocessing", "evaluation", "datasets")


def _value(v: object) -> str:
    return v if isinstance(v, str) else json.dumps(v)


def key_values(entry: dict) -> dict[str, str]:
    """An entry as a ``("kv", ...)`` layout block: one level of the listed blocks unfolded, values as text."""
    out = {}
    for key, value in entry.items():
        if isinstance(value, dict) and key in LISTED_BLOCKS:
            for sub, v in value.items():
                out[f"{key}.{sub}"] = _value(v)
        else:
            out[key] = _value(value)
    return out


def severity_curves(cells: list[dict], families: Mapping[str, Sequence[str]], severities: Sequence[int],
                    value: Callable[[dict], float]) -> dict[str, dict[str, float]]:
    """Per family, the mean of ``value(stats)`` over its corruptions' cells at each severity ("0": the
    clean cell), over the cells present: figure data only (no summary has a family x severity breakdown)."""
    clean = [value(c["stats"]) for c in cells if c["corruption"] == CLEAN]
    curves: dict[str, dict[str, float]] = {}
    for family, members in families.items():
        points: dict[str, float] = {"0": clean[0]} if clean else {}
        for s in severities:
            values = [value(c["stats"]) for c in cells if c["corruption"] in members and c["severity"] == s]
            if values:
                points[str(s)] = sum(values) / len(values)
        if len(points) > (1 if clean else 0):
            curves[family] = points
    return curves
