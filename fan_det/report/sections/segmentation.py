"""Semantic segmentation: mIoU under corruption (``segmentation.json``: clean P, the protocol's mean mPC,
retention rPC, per corruption in the paper's column order, per family and severity, every cell) and under
natural shift (``acdc.json``: mIoU per ACDC condition and their mean).

Models are grouped by protocol: a table holds one protocol's numbers only, so numbers of different
protocols are never ranked against each other. The tables print the tools' own summaries; only the
figures' family x severity curves average cells.
"""

from __future__ import annotations

from fan_det.protocol import ACDC_CONDITIONS, CITY_C_FAMILIES, PROTOCOLS
from fan_det.report import plots
from fan_det.report.inputs import ResultFile, merge_detection
from fan_det.report.references import ReferenceTable
from fan_det.report.sections import common
from fan_det.report.sections.base import HeadlineColumn, Layout, Section
from fan_det.report.sections.common import RANDOM_LABEL, model_entry, model_row, slug
from fan_det.report.tables import column, row, table

# The FAN paper's Cityscapes-C columns (SegFormer's order), then the corruptions it does not show.
PAPER_ORDER = tuple(c for names in CITY_C_FAMILIES.values() for c in names)
TRIPLE = (("P", "clean mIoU"), ("mPC", "mean mIoU under corruption"), ("rPC", "retention (%)"))


def paper_order(corruptions: list[str]) -> list[str]:
    """``corruptions`` in the paper's column order, the others after them in their own order."""
    return [c for c in PAPER_ORDER if c in corruptions] + [c for c in corruptions if c not in PAPER_ORDER]


def segmentation_model(rf: ResultFile) -> dict:
    doc = rf.doc
    summary, protocol = doc["summary"], doc["protocol"]
    labels = [RANDOM_LABEL] if doc["model"].get("random_init") else []
    partial = bool(summary.get("partial"))
    if partial:
        planned = len(PROTOCOLS[protocol["name"]].cells) + 1
        labels.append(f"partial {protocol['name']}: {planned - len(summary.get('missing', []))} of "
                      f"{planned} cells")
    return {**model_entry(rf, labels, partial), "dataset": doc["dataset"], "protocol": protocol,
            "summary": summary, "miou": summary["stats"]["mIoU"], "cells": doc["cells"],
            "missing": summary.get("missing", []), "family_curves": family_curves(doc["cells"], protocol)}


def family_curves(cells: list[dict], protocol: dict) -> dict[str, dict[str, float]]:
    """Mean mIoU per family of the protocol and severity."""
    return common.severity_curves(cells, protocol["families"], protocol["severities"],
                                  lambda stats: stats["mIoU"])


def triple(block: dict) -> tuple[list, list]:
    """P, mPC, rPC of the mIoU summary and their intervals where the tool wrote them."""
    return [block.get(k) for k, _ in TRIPLE], [block.get(f"{k}_ci") for k, _ in TRIPLE]


def by_protocol(models: list[dict]) -> dict[str, list[dict]]:
    """Models grouped by protocol name, in the order of ``PROTOCOLS``."""
    return {p: [m for m in models if m["protocol"]["name"] == p] for p in PROTOCOLS
            if any(m["protocol"]["name"] == p for m in models)}


def segmentation_tables(models: list[dict]) -> list[dict]:
    """Per protocol: the P / mPC / rPC triple, per corruption (paper order), per family and severity;
    then every cell of every model (appendix)."""
    tables = []
    for name, group in by_protocol(models).items():
        definition = PROTOCOLS[name]
        tag = f"{name}: {len(definition.corruptions)} corruptions x severities " \
              f"{definition.severities[0]}-{definition.severities[-1]}"
        columns = [column(k, label, complete_only=k != "P") for k, label in TRIPLE]
        rows = [model_row(m, *triple(m["miou"])) for m in group]
        tables.append(table(f"seg-{name}-retention", f"mIoU under corruption ({tag})", columns, rows))
        order = paper_order(list(definition.corruptions))
        rows = [model_row(m, [m["miou"].get("per_corruption", {}).get(c) for c in order]) for m in group]
        tables.append(table(f"seg-{name}-per-corruption",
                            f"mIoU per corruption, mean over severities ({name}; the paper's column order)",
                            [column(c, complete_only=True) for c in order], rows))
        families, severities = list(definition.families), [str(s) for s in definition.severities]
        rows = [model_row(m, [m["miou"].get("per_family", {}).get(f) for f in families]
                          + [m["miou"].get("per_severity", {}).get(s) for s in severities]) for m in group]
        columns = [column(f"family:{f}", f, complete_only=True) for f in families] + [
            column(f"severity:{s}", f"sev {s}", complete_only=True) for s in severities]
        tables.append(table(f"seg-{name}-family-severity", f"mIoU per family and per severity ({name})",
                            columns, rows, section="appendix"))
    return tables + [cells_table(m) for m in models]


def cells_table(m: dict) -> dict:
    """Every cell's mIoU and per-class IoU (n/a: a class without ground truth, left out of the mean)."""
    classes = m["dataset"].get("classes", [])
    rows = [row(f"{c['corruption']} / {c['severity']}",
                [c.get("num_images"), c["stats"]["mIoU"]] + [c["stats"]["IoU"].get(k) for k in classes]
                + [c.get("seconds")]) for c in m["cells"]]
    columns = ([column("num_images", "images", None), column("mIoU", better=None)]
               + [column(f"IoU:{k}", k, None) for k in classes] + [column("seconds", "seconds", None)])
    return table(f"seg-cells-{slug(m['name'])}", f"Every evaluated cell: {m['display']}", columns, rows,
                 section="appendix", row_header="corruption / severity")


def acdc_model(rf: ResultFile) -> dict:
    summary = rf.doc["summary"]
    labels = [RANDOM_LABEL] if rf.doc["model"].get("random_init") else []
    if summary.get("partial"):
        labels.append(f"partial ACDC: {len(ACDC_CONDITIONS) - len(summary.get('missing', []))} of "
                      f"{len(ACDC_CONDITIONS)} conditions")
    return {**model_entry(rf, labels, bool(summary.get("partial"))), "dataset": rf.doc["dataset"],
            "summary": summary}


def acdc_tables(models: list[dict]) -> list[dict]:
    if not models:
        return []
    columns = [column("mean", "mean mIoU", complete_only=True)] + [column(c) for c in ACDC_CONDITIONS]
    rows = [model_row(m, [m["summary"].get("mean")]
                      + [m["summary"]["per_condition"].get(c) for c in ACDC_CONDITIONS],
                      [m["summary"].get("mean_ci")]
                      + [m["summary"].get("per_condition_ci", {}).get(c) for c in ACDC_CONDITIONS])
            for m in models]
    return [table("acdc-mIoU", "ACDC mIoU: mean over the four conditions and per condition", columns, rows)]


def _miou(cell: dict) -> float:
    return cell["stats"]["mIoU"]


def segmentation_content(models: list[dict]) -> dict:
    return {"dataset": models[0]["dataset"] if models else None, "models": models,
            "tables": segmentation_tables(models) if models else []}


def segmentation_layout(report: dict, figures: dict[str, str]) -> Layout:
    block = report["segmentation"]
    if not block["models"]:
        return []
    ds = block["dataset"]
    blocks: list[tuple[str, object]] = [("text", (
        f"Dataset {ds.get('name')} ({ds.get('num_images')} images, {len(ds.get('classes', []))} classes). "
        "P = clean mIoU; mPC = the protocol's mean mIoU under corruption (each corruption's mean over "
        "its severities, then the mean over its corruptions); rPC = mPC / P, the retention. Each table "
        "holds one protocol: numbers of different protocols are never ranked against each other."))]
    for name in by_protocol(block["models"]):
        definition = PROTOCOLS[name]
        blocks.append(("text", f"Protocol {name}: {definition.source}."))
        tables = [t for t in common.main_tables(block) if t["id"].startswith(f"seg-{name}-")]
        blocks.append(("tables", tables))
        blocks += [("figure", f) for f in (f"seg-heatmap-{name}", f"seg-severity-{name}") if f in figures]
    for m in block["models"]:
        if m["missing"]:
            cells = ", ".join(f"{c}/{s}" for c, s in m["missing"])
            blocks.append(("warning", f"{m['display']}: cells of {m['protocol']['name']} not evaluated: "
                                      f"{cells}"))
    return [("Segmentation: retention under corruption", blocks)]


def segmentation_figures(report: dict) -> dict:
    figures = {}
    for name, group in by_protocol(report["segmentation"]["models"]).items():
        definition = PROTOCOLS[name]
        figures[f"seg-heatmap-{name}"] = (
            f"mIoU per corruption and severity ({name}; the paper's column order)",
            plots.heatmap(group, _miou, "mIoU", [(name, paper_order(list(definition.corruptions)))],
                          definition.severities))
        figures[f"seg-severity-{name}"] = (
            f"mIoU against severity per corruption family ({name})",
            plots.severity_curves(group, "mIoU", tuple(definition.families)))
    return figures


def _stat(m: dict, key: str, protocol: str | None = None) -> tuple[object, list | None]:
    if protocol is not None and m["protocol"]["name"] != protocol:
        return None, None
    return m["miou"].get(key), m["miou"].get(f"{key}_ci")


def segmentation_headline(report: dict) -> list[HeadlineColumn]:
    """Clean mIoU, then mPC and rPC per protocol present: one protocol's numbers per column."""
    columns = [HeadlineColumn(column("seg/P", "seg clean mIoU"), lambda m, _: _stat(m, "P"), partial=False)]
    for name in by_protocol(report["segmentation"]["models"]):
        columns += [HeadlineColumn(column(f"seg/{name}/{k}", f"{label} ({name})", complete_only=True),
                                   lambda m, _, k=k, name=name: _stat(m, k, name))
                    for k, label in (("mPC", "seg mIoU under corruption"), ("rPC", "seg retention %"))]
    return columns


def reference_value(key: str, m: dict) -> float | None:
    """Our number for a published ``segmentation/clean|mean|retention`` key."""
    task, _, metric = key.partition("/")
    names = {"clean": "P", "mean": "mPC", "retention": "rPC"}
    return m["miou"].get(names[metric]) if task == "segmentation" and metric in names else None


def reference_line(ref: ReferenceTable, m: dict) -> str:
    ds, protocol = m["dataset"], m["protocol"]["name"]
    same = ref.protocol_name == protocol
    return (f"Ours ({m['display']}): {ds.get('name')} ({ds.get('num_images')} images); protocol {protocol} "
            f"({PROTOCOLS[protocol].source}), corrupted {m['protocol'].get('mode')} with imagecorruptions "
            f"{m['protocol'].get('imagecorruptions_version')}, seed {m['protocol'].get('seed')}"
            + ("" if same else f"; theirs {ref.protocol_name or 'another protocol'}: protocol may differ")
            + ".")


def acdc_content(models: list[dict]) -> dict:
    return {"models": models, "tables": acdc_tables(models)}


def acdc_layout(report: dict, _: dict[str, str]) -> Layout:
    block = report["acdc"]
    return [("Segmentation: natural shift (ACDC)", [("tables", block["tables"])])] if block["models"] else []


def _acdc_mean(m: dict, _: dict) -> tuple[object, list | None]:
    return m["summary"].get("mean"), m["summary"].get("mean_ci")


SECTION = Section(
    key="segmentation", kind="segmentation", flag="--segmentation",
    model=segmentation_model, merge=lambda files: merge_detection(files, "segmentation"),
    content=segmentation_content, headline_title="Cityscapes-C mIoU", layout=segmentation_layout,
    figures=segmentation_figures, headline=segmentation_headline,
    provenance=lambda m: {"dataset": {k: v for k, v in m["dataset"].items() if k != "classes"},
                          "protocol": m["protocol"]},
    reference_task="segmentation", reference_value=reference_value, reference_line=reference_line,
)

ACDC_SECTION = Section(
    key="acdc", kind="acdc", flag="--acdc",
    model=acdc_model, merge=lambda files: merge_detection(files, "ACDC"),
    content=acdc_content, headline_title="ACDC mIoU", layout=acdc_layout,
    headline=lambda _: [HeadlineColumn(column("acdc/mean", "ACDC mean mIoU", complete_only=True),
                                       _acdc_mean)],
    provenance=lambda m: {"dataset": m["dataset"]},
)
