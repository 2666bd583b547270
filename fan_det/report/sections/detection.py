"""Detection under corruption (COCO-C): P, mPC and rPC as ``robustness.json`` summarises them, per
corruption, family, severity and holdout corruption, and every evaluated cell.

The tables print the tool's own summary (``summary.stats``); nothing here averages cells again, except
the family x severity curves of the figure, which no summary holds.
"""

from __future__ import annotations

from fan_det.protocol import BENCHMARK, FAMILIES, HOLDOUT, SEVERITIES
from fan_det.report import plots
from fan_det.report.inputs import ResultFile, merge_detection
from fan_det.report.references import ReferenceTable
from fan_det.report.sections import common
from fan_det.report.sections.base import HeadlineColumn, Layout, Section
from fan_det.report.sections.common import GRID_CELLS, RANDOM_LABEL, model_entry, model_row, ordered, slug
from fan_det.report.tables import column, row, table

STAT_ORDER = ("AP", "AP50", "AP75", "APs", "APm", "APl")
TRIPLE = ("P", "mPC", "rPC")


def detection_model(rf: ResultFile) -> dict:
    doc = rf.doc
    summary = doc["summary"]
    labels = [RANDOM_LABEL] if doc["model"].get("random_init") else []
    partial = bool(summary.get("partial")) or bool(summary.get("missing"))
    used = summary.get("cells_used")
    if used is None:
        used = [[c["corruption"], c["severity"]] for c in doc["cells"] if c["corruption"] in BENCHMARK]
    if partial:
        labels.append(f"partial: {len(used)} of {GRID_CELLS} cells")
    return {
        **model_entry(rf, labels, partial),
        "missing": summary.get("missing", []),
        "dataset": doc["dataset"],
        "protocol": doc["protocol"],
        "summary": summary,
        "cells": doc["cells"],
        "family_curves": family_curves(doc["cells"]),
    }


def family_curves(cells: list[dict]) -> dict[str, dict[str, float]]:
    """Mean box AP per family and severity over the cells present; holdout as a family."""
    return common.severity_curves(cells, {**FAMILIES, "holdout": HOLDOUT}, SEVERITIES,
                                  lambda stats: stats["bbox"]["AP"])


def stat_names(models: list[dict]) -> list[str]:
    names = {s for m in models for s in m["summary"]["stats"]}
    return ordered([s for s in names if "/" not in s], STAT_ORDER) + sorted(s for s in names if "/" in s)


def triple(block: dict) -> tuple[list, list]:
    """P, mPC, rPC of a summary stat block and their intervals (``<key>_ci``) where the tool wrote them."""
    return [block.get(k) for k in TRIPLE], [block.get(f"{k}_ci") for k in TRIPLE]


def _section(stat: str) -> str:
    """Box AP's tables open the report; the other stats' go to the appendix."""
    return "main" if stat == "AP" else "appendix"


def _breakdowns(stat: str) -> list[tuple[str, str, list[dict], list[tuple[str, str]], str]]:
    """The summary breakdowns shown per stat: (id, title, columns, (breakdown, key) pairs, section)."""
    severities = [str(s) for s in SEVERITIES]
    return [
        (f"det-{stat}-per-corruption", f"{stat} per corruption (mean over severities)",
         [column(c, complete_only=True) for c in BENCHMARK], [("per_corruption", c) for c in BENCHMARK],
         "appendix"),
        (f"det-{stat}-family-severity", f"{stat} per family and per severity",
         [column(f"family:{f}", f, complete_only=True) for f in FAMILIES]
         + [column(f"severity:{s}", f"sev {s}", complete_only=True) for s in severities],
         [("per_family", f) for f in FAMILIES] + [("per_severity", s) for s in severities],
         _section(stat)),
    ]


def _holdout_table(stat: str, models: list[dict]) -> list[dict]:
    held = [m["summary"].get("holdout", {}).get(stat, {}) for m in models]
    present = [h for h in HOLDOUT if any(h in b.get("per_corruption", {}) for b in held)]
    if not present:
        return []
    columns = [column(h, complete_only=True) for h in present] + [
        column(k, f"holdout {label}", complete_only=True) for k, label in (("mPC", "mPC"), ("rPC", "rPC (%)"))
    ]
    rows = [model_row(m, [h.get("per_corruption", {}).get(c) for c in present] + [h.get("mPC"), h.get("rPC")])
            for m, h in zip(models, held, strict=True)]
    title = f"{stat} on the holdout corruptions (not part of mPC)"
    return [table(f"det-{stat}-holdout", title, columns, rows, section=_section(stat))]


def detection_tables(models: list[dict]) -> list[dict]:
    """Per stat: the P / mPC / rPC triple, its breakdowns and the holdout corruptions; then every cell."""
    tables = []
    for stat in stat_names(models):
        blocks = [m["summary"]["stats"].get(stat, {}) for m in models]
        columns = [column("P"), column("mPC", complete_only=True),
                   column("rPC", "rPC (%)", complete_only=True)]
        rows = [model_row(m, *triple(b)) for m, b in zip(models, blocks, strict=True)]
        title = f"{stat}: clean (P), mean under corruption (mPC), retention (rPC, %)"
        tables.append(table(f"det-{stat}-retention", title, columns, rows, section=_section(stat)))
        for table_id, title, columns, keys, section in _breakdowns(stat):
            rows = [model_row(m, [b.get(part, {}).get(k) for part, k in keys])
                    for m, b in zip(models, blocks, strict=True)]
            tables.append(table(table_id, title, columns, rows, section=section))
        tables += _holdout_table(stat, models)
    return tables + [cells_table(m) for m in models]


def cells_table(m: dict) -> dict:
    keys: list[str] = []
    for cell in m["cells"]:
        for task, stats in cell.get("stats", {}).items():
            keys += [
                k for k in (name if task == "bbox" else f"{task}/{name}" for name in stats) if k not in keys
            ]
    keys = ordered(keys, STAT_ORDER)
    rows = []
    for cell in m["cells"]:
        values = [
            cell.get("stats", {}).get(task or "bbox", {}).get(name)
            for task, _, name in (key.rpartition("/") for key in keys)
        ]
        rows.append(
            row(
                f"{cell['corruption']} / {cell['severity']}",
                [cell.get("num_images")] + values + [cell.get("seconds")],
            )
        )
    cols = [column("num_images", "images", None)] + [column(k, better=None) for k in keys]
    cols.append(column("seconds", "seconds", None))
    return table(
        f"det-cells-{slug(m['name'])}",
        f"Every evaluated cell: {m['display']}",
        cols,
        rows,
        section="appendix",
        row_header="corruption / severity",
    )


def detection_content(models: list[dict]) -> dict:
    return {
        "dataset": models[0]["dataset"] if models else None,
        "protocol": models[0]["protocol"] if models else None,
        "models": models,
        "tables": detection_tables(models) if models else [],
    }


def detection_layout(report: dict, figures: dict[str, str]) -> Layout:
    det = report["detection"]
    if not det["models"]:
        return []
    ds, p = det["dataset"], det["protocol"]
    blocks: list[tuple[str, object]] = [
        ("text", (f"Dataset {ds.get('name')} ({ds.get('num_images')} images). Corruptions: "
                  f"{', '.join(p.get('corruptions', []))}; severities {p.get('severities')}; "
                  f"seed {p.get('seed')}; {p.get('mode')}. P = clean AP, "
                  "mPC = mean over the 15 benchmark corruptions x 5 severities, "
                  "rPC = mPC / P. Holdout corruptions are reported apart and never enter mPC.")),
        ("tables", common.main_tables(det)),
    ]
    blocks += [("figure", f) for f in ("det-heatmap", "det-severity") if f in figures]
    for m in det["models"]:
        if m["missing"]:
            cells = ", ".join(f"{c}/{s}" for c, s in m["missing"])
            blocks.append(("warning", f"{m['display']}: cells not evaluated: {cells}"))
    return [("Detection: retention under corruption", blocks)]


def detection_figures(report: dict) -> dict:
    models = report["detection"]["models"]
    if not models:
        return {}
    return {
        "det-heatmap": ("Box AP per corruption and severity (heat map; holdout below, not in mPC)",
                        plots.heatmap(models)),
        "det-severity": ("Box AP against severity per corruption family (holdout apart)",
                         plots.severity_curves(models)),
    }


HEADLINE_STATS = (("P", "COCO P"), ("mPC", "COCO mPC"), ("rPC", "COCO rPC (%)"))


def _box_ap(m: dict, key: str) -> tuple[object, list | None]:
    ap = m["summary"]["stats"].get("AP", {})
    return ap.get(key), ap.get(f"{key}_ci")


def detection_headline(_: dict) -> list[HeadlineColumn]:
    return [HeadlineColumn(column(f"coco/{k}", label, complete_only=k != "P"),
                           lambda m, _, k=k: _box_ap(m, k)) for k, label in HEADLINE_STATS]


def reference_value(key: str, m: dict) -> float | None:
    """Our number for a published ``detection/<stat>`` key: the box AP summary's."""
    dataset, _, metric = key.partition("/")
    return m["summary"]["stats"].get("AP", {}).get(metric) if dataset == "detection" else None


def reference_line(ref: ReferenceTable, m: dict) -> str:
    p, ds = m["protocol"], m["dataset"]
    corruptions = p.get("corruptions", [])
    n_bench = sum(c in BENCHMARK for c in corruptions)
    return (
        f"Ours ({m['display']}): {ds.get('name')} ({ds.get('num_images')} images); "
        f"{n_bench} benchmark corruptions (+{len(corruptions) - n_bench} holdout, reported apart) "
        f"x severities {p.get('severities')}, standard 15-corruption mPC, "
        f"corrupted {p.get('mode')} with imagecorruptions {p.get('imagecorruptions_version')}, "
        f"seed {p.get('seed')}; detector {m['name']} from {m['model'].get('config')}."
    )


SECTION = Section(
    key="detection", kind="robustness", flag="--detection",
    model=detection_model, merge=lambda files: merge_detection(files, "detection"),
    content=detection_content, headline_title="COCO-C", layout=detection_layout, figures=detection_figures,
    headline=detection_headline,
    provenance=lambda m: {"dataset": m["dataset"], "protocol": m["protocol"]},
    reference_task="detection", reference_value=reference_value, reference_line=reference_line,
)
