"""Build the report model (``fan_det.report/1``) from checked inputs: a pure function of the documents.

Everything ``report.md`` and ``report.html`` show is here, so the three files cannot disagree: the inputs'
own numbers (copied verbatim), the comparison tables with the best per column marked, the published
numbers beside ours with the protocol differences, labels for partial or random-weight results, and the
provenance of every input.
"""

from __future__ import annotations

import re

from fan_det.report.inputs import ResultFile
from fan_det.report.references import ReferenceTable, benchmark_corruptions
from fan_det.report.tables import column, row, table

SCHEMA = "fan_det.report/1"
STAT_ORDER = ("AP", "AP50", "AP75", "APs", "APm", "APl")
OOD_ORDER = ("imagenet", "imagenet-a", "imagenet-r", "imagenet-sketch", "imagenet-c")
OOD_TITLES = {
    "imagenet": "ImageNet val",
    "imagenet-a": "ImageNet-A",
    "imagenet-r": "ImageNet-R",
    "imagenet-sketch": "ImageNet-Sketch",
    "imagenet-c": "ImageNet-C",
}
OOD_METRICS = (
    "top1",
    "top5",
    "top1_unmasked",
    "top5_unmasked",
    "calibration_error",
    "aurra",
    "in200_top1",
    "gap",
    "mce",
    "relative_mce",
    "mean_acc_15",
    "mean_acc_19",
    "retention",
)
RANDOM_LABEL = "random weights"


def _ordered(keys, order) -> list:
    keys = list(keys)
    return [k for k in order if k in keys] + sorted(k for k in keys if k not in order)


def _stat_names(models: list[dict]) -> list[str]:
    names = {s for m in models for s in m["summary"]["stats"]}
    box = _ordered([s for s in names if "/" not in s], STAT_ORDER)
    other = sorted(s for s in names if "/" in s)
    return box + other


def _slug(name: str) -> str:
    """A table id part: HTML ids may not hold whitespace."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name)


def _display(name: str, labels: list[str]) -> str:
    return name + "".join(f" [{label}]" for label in labels)


def _model_entry(rf: ResultFile, labels: list[str], partial: bool) -> dict:
    """What every model of the report carries, detection or OOD: name, labels, flags, source."""
    doc = rf.doc
    return {
        "name": rf.model_name,
        "display": _display(rf.model_name, labels),
        "labels": labels,
        "random_init": bool(doc["model"].get("random_init")),
        "partial": partial,
        "source": str(rf.path),
        "notes": rf.notes,
        "model": doc["model"],
        "provenance": doc.get("provenance", {}),
    }


# ---------------------------------------------------------------- detection


def _detection_model(rf: ResultFile, protocols: dict) -> dict:
    doc = rf.doc
    summary = doc["summary"]
    bench = set(benchmark_corruptions(protocols))
    severities = protocols["corruptions"]["severities"]
    labels = []
    if doc["model"].get("random_init"):
        labels.append(RANDOM_LABEL)
    partial = bool(summary.get("partial")) or bool(summary.get("missing"))
    used = summary.get("cells_used")
    if used is None:
        used = [[c["corruption"], c["severity"]] for c in doc["cells"] if c["corruption"] in bench]
    if partial:
        labels.append(f"partial: {len(used)} of {len(bench) * len(severities)} cells")
    return {
        **_model_entry(rf, labels, partial),
        "missing": summary.get("missing", []),
        "dataset": doc["dataset"],
        "protocol": doc["protocol"],
        "summary": summary,
        "cells": doc["cells"],
        "family_curves": family_curves(doc["cells"], protocols),
    }


def family_curves(cells: list[dict], protocols: dict) -> dict[str, dict[str, float]]:
    """Mean box AP per family and severity over the cells present ("0" is clean); holdout as a family."""
    families = dict(protocols["corruptions"]["families"])
    families["holdout"] = protocols["corruptions"]["holdout"]
    clean = [c["stats"]["bbox"]["AP"] for c in cells if c["corruption"] == "clean"]
    curves: dict[str, dict[str, float]] = {}
    for family, members in families.items():
        points: dict[str, float] = {}
        if clean:
            points["0"] = clean[0]
        for s in protocols["corruptions"]["severities"]:
            values = [
                c["stats"]["bbox"]["AP"] for c in cells if c["corruption"] in members and c["severity"] == s
            ]
            if values:
                points[str(s)] = sum(values) / len(values)
        if len(points) > (1 if clean else 0):
            curves[family] = points
    return curves


def _detection_tables(models: list[dict], protocols: dict) -> list[dict]:
    bench = benchmark_corruptions(protocols)
    families = list(protocols["corruptions"]["families"])
    severities = [str(s) for s in protocols["corruptions"]["severities"]]
    holdout = [
        h
        for h in protocols["corruptions"]["holdout"]
        if any(
            h in m["summary"].get("holdout", {}).get(s, {}).get("per_corruption", {})
            for m in models
            for s in m["summary"].get("holdout", {})
        )
    ]
    tables = []
    for stat in _stat_names(models):
        section = "main" if stat == "AP" else "appendix"
        stats = [m["summary"]["stats"].get(stat, {}) for m in models]
        tables.append(
            table(
                f"det-{stat}-retention",
                f"{stat}: clean (P), mean under corruption (mPC), retention (rPC, %)",
                [
                    column("P"),
                    column("mPC", complete_only=True),
                    column("rPC", "rPC (%)", complete_only=True),
                ],
                [
                    row(
                        m["display"],
                        [s.get(k) for k in ("P", "mPC", "rPC")],
                        m["partial"],
                        ranked=not m["random_init"],
                    )
                    for m, s in zip(models, stats, strict=True)
                ],
                section=section,
            )
        )
        tables.append(
            table(
                f"det-{stat}-per-corruption",
                f"{stat} per corruption (mean over severities)",
                [column(c, complete_only=True) for c in bench],
                [
                    row(
                        m["display"],
                        [s.get("per_corruption", {}).get(c) for c in bench],
                        m["partial"],
                        ranked=not m["random_init"],
                    )
                    for m, s in zip(models, stats, strict=True)
                ],
                section="appendix",
            )
        )
        tables.append(
            table(
                f"det-{stat}-family-severity",
                f"{stat} per family and per severity",
                [column(f"family:{f}", f, complete_only=True) for f in families]
                + [column(f"severity:{s}", f"sev {s}", complete_only=True) for s in severities],
                [
                    row(
                        m["display"],
                        [s.get("per_family", {}).get(f) for f in families]
                        + [s.get("per_severity", {}).get(v) for v in severities],
                        m["partial"],
                        ranked=not m["random_init"],
                    )
                    for m, s in zip(models, stats, strict=True)
                ],
                section=section,
            )
        )
        held = [m["summary"].get("holdout", {}).get(stat, {}) for m in models]
        if holdout and any(held):
            tables.append(
                table(
                    f"det-{stat}-holdout",
                    f"{stat} on the holdout corruptions (not part of mPC)",
                    [column(h, complete_only=True) for h in holdout]
                    + [
                        column("mPC", "holdout mPC", complete_only=True),
                        column("rPC", "holdout rPC (%)", complete_only=True),
                    ],
                    [
                        row(
                            m["display"],
                            [h.get("per_corruption", {}).get(c) for c in holdout]
                            + [h.get("mPC"), h.get("rPC")],
                            m["partial"],
                            ranked=not m["random_init"],
                        )
                        for m, h in zip(models, held, strict=True)
                    ],
                    section=section,
                )
            )
    for m in models:
        tables.append(_cells_table(m))
    return tables


def _cells_table(m: dict) -> dict:
    keys = []
    for cell in m["cells"]:
        for task, stats in cell.get("stats", {}).items():
            for name in stats:
                key = name if task == "bbox" else f"{task}/{name}"
                if key not in keys:
                    keys.append(key)
    keys = [k for k in STAT_ORDER if k in keys] + [k for k in keys if k not in STAT_ORDER]
    rows = []
    for cell in m["cells"]:
        values = []
        for key in keys:
            task, _, name = key.rpartition("/")
            values.append(cell.get("stats", {}).get(task or "bbox", {}).get(name))
        rows.append(
            row(
                f"{cell['corruption']} / {cell['severity']}",
                [cell.get("num_images")] + values + [cell.get("seconds")],
            )
        )
    cols = [column("num_images", "images", None)] + [column(k, better=None) for k in keys]
    cols.append(column("seconds", "seconds", None))
    return table(
        f"det-cells-{_slug(m['name'])}",
        f"Every evaluated cell: {m['display']}",
        cols,
        rows,
        section="appendix",
        row_header="corruption / severity",
    )


# ---------------------------------------------------------------- OOD


def _ood_model(rf: ResultFile, protocols: dict) -> dict:
    doc = rf.doc
    labels = [RANDOM_LABEL] if doc["model"].get("random_init") else []
    grid = len(benchmark_corruptions(protocols)) * len(protocols["corruptions"]["severities"])
    partial = False
    for name, block in doc["datasets"].items():
        if block.get("num_skipped"):
            labels.append(f"{block['num_skipped']} {name} images skipped")
        cells = block["metrics"].get("per_cell")
        if cells is not None:
            bench = sum(1 for k in cells if k.split("/")[0] in benchmark_corruptions(protocols))
            if bench < grid:
                partial = True
                labels.append(f"partial ImageNet-C: {bench} of {grid} cells")
    return {
        **_model_entry(rf, labels, partial),
        "preprocessing": doc.get("preprocessing", {}),
        "datasets": doc["datasets"],
    }


def _ood_tables(models: list[dict], protocols: dict) -> list[dict]:
    names = _ordered({d for m in models for d in m["datasets"]}, OOD_ORDER)
    tables = []
    glance = [(d, "mean_acc_15" if d == "imagenet-c" else "top1") for d in names]
    glance = [
        (d, k) for d, k in glance if any(k in m["datasets"].get(d, {}).get("metrics", {}) for m in models)
    ]
    if glance:
        tables.append(
            table(
                "ood-glance",
                "Top-1 at a glance (masked 200-way for A and R; ImageNet-C: mean over 15 corruptions)",
                [column(f"{d}/{k}", OOD_TITLES.get(d, d)) for d, k in glance],
                [
                    row(
                        m["display"],
                        [m["datasets"].get(d, {}).get("metrics", {}).get(k) for d, k in glance],
                        m["partial"],
                        ranked=not m["random_init"],
                    )
                    for m in models
                ],
            )
        )
    bench = benchmark_corruptions(protocols)
    for d in names:
        present = [m for m in models if d in m["datasets"]]
        first = present[0]["datasets"][d]
        keys = _ordered(
            {
                k
                for m in present
                for k, v in m["datasets"][d]["metrics"].items()
                if isinstance(v, int | float)
            },
            OOD_METRICS,
        )
        extra = [k for k in ("num_skipped", "classes_present") if any(k in m["datasets"][d] for m in present)]
        title = f"{OOD_TITLES.get(d, d)} ({first.get('num_images')} images)"
        tables.append(
            table(
                f"ood-{d}",
                title,
                [column(k) for k in keys] + [column(k, k.replace("_", " "), None) for k in extra],
                [
                    row(
                        m["display"],
                        [m["datasets"][d]["metrics"].get(k) for k in keys]
                        + [m["datasets"][d].get(k) for k in extra],
                        m["partial"],
                        ranked=not m["random_init"],
                    )
                    for m in present
                ],
            )
        )
        per_corruption = [m["datasets"][d]["metrics"].get("per_corruption") for m in present]
        if any(per_corruption):
            corruptions = [
                c
                for c in bench + protocols["corruptions"]["holdout"]
                if any(c in (pc or {}) for pc in per_corruption)
            ]
            corruptions += sorted({c for pc in per_corruption for c in (pc or {})} - set(corruptions))
            tables.append(
                table(
                    f"ood-{d}-per-corruption",
                    f"{OOD_TITLES.get(d, d)} top-1 per corruption (mean over severities)",
                    [column(c) for c in corruptions],
                    [
                        row(
                            m["display"],
                            [(pc or {}).get(c) for c in corruptions],
                            m["partial"],
                            ranked=not m["random_init"],
                        )
                        for m, pc in zip(present, per_corruption, strict=True)
                    ],
                    section="appendix",
                )
            )
        for m in present:
            cells = m["datasets"][d]["metrics"].get("per_cell")
            if cells:
                tables.append(_per_cell_table(d, m, cells))
    return tables


def _per_cell_table(d: str, m: dict, cells: dict) -> dict:
    corruptions = _ordered({k.split("/")[0] for k in cells}, ())
    severities = sorted({int(k.split("/")[1]) for k in cells})
    return table(
        f"ood-{d}-cells-{_slug(m['name'])}",
        f"{OOD_TITLES.get(d, d)} top-1 per cell: {m['display']}",
        [column(f"severity:{s}", f"sev {s}", None) for s in severities],
        [row(c, [cells.get(f"{c}/{s}") for s in severities]) for c in corruptions],
        section="appendix",
        row_header="corruption",
    )


# ---------------------------------------------------------------- published references


def our_value(key: str, det: dict | None, ood: dict | None) -> float | None:
    """Our number for a reference metric key ``<dataset>/<metric>``, or None."""
    dataset, _, metric = key.partition("/")
    if dataset == "detection":
        return det["summary"]["stats"].get("AP", {}).get(metric) if det else None
    if ood is None:
        return None
    if key == "imagenet-c/mean_acc":
        return ood["datasets"].get("imagenet-c", {}).get("metrics", {}).get("mean_acc_15")
    if key == "imagenet/error":
        top1 = ood["datasets"].get("imagenet", {}).get("metrics", {}).get("top1")
        return None if top1 is None else 100.0 - top1
    return ood["datasets"].get(dataset, {}).get("metrics", {}).get(metric)


def _differences(ref: ReferenceTable, ours: list[tuple[dict, str]], protocols: dict) -> list[str]:
    lines = [f"Theirs: {ref.protocol}."]
    bench = set(benchmark_corruptions(protocols))
    datasets = {k.partition("/")[0] for k in ref.metrics}
    for m, kind in ours:
        if kind == "det":
            p, ds = m["protocol"], m["dataset"]
            corruptions = p.get("corruptions", [])
            n_bench = sum(c in bench for c in corruptions)
            lines.append(
                f"Ours ({m['display']}): {ds.get('name')} ({ds.get('num_images')} images); "
                f"{n_bench} benchmark corruptions (+{len(corruptions) - n_bench} holdout, reported apart) "
                f"x severities {p.get('severities')}, standard 15-corruption mPC, "
                f"corrupted {p.get('mode')} with imagecorruptions {p.get('imagecorruptions_version')}, "
                f"seed {p.get('seed')}; detector "
                f"{m['name']} from {m['model'].get('config')}."
            )
        else:
            pre = m["preprocessing"]
            sets = ", ".join(
                f"{d} {b.get('num_images')} images" for d, b in m["datasets"].items() if d in datasets
            )
            in_c = (
                "; IN-C compared as our mean top-1 over the 15 benchmark corruptions"
                if "imagenet-c/mean_acc" in ref.metrics
                else ""
            )
            lines.append(
                f"Ours ({m['display']}): {sets}; input {pre.get('input_size')}, "
                f"crop_pct {pre.get('crop_pct')}, {pre.get('interpolation')}{in_c}."
            )
        if m["labels"]:
            lines.append(
                f"Ours ({m['name']}) is labelled: {', '.join(m['labels'])}: not comparable as a score."
            )
    return lines


def _reference_tables(
    refs: list[ReferenceTable], det: list[dict], ood: list[dict], protocols: dict
) -> list[dict]:
    out = []
    for ref in refs:
        keys = list(ref.metrics)
        rows = [
            row(f"{r['model']} (published)", [r.get(k) for k in keys], kind="published") for r in ref.rows
        ]
        ours: list[tuple[dict, str]] = []
        candidates = [(m, "det") for m in det] if ref.task == "detection" else [(m, "ood") for m in ood]
        if ref.task in ("detection", "classification"):
            for m, kind in candidates:
                values = [
                    our_value(k, m if kind == "det" else None, m if kind == "ood" else None) for k in keys
                ]
                if any(v is not None for v in values):
                    same = [
                        r["model"]
                        for r in ref.rows
                        if r.get("timm_name") and m["name"].startswith(r["timm_name"])
                    ]
                    arch = f" (architecture of {same[0]})" if same else ""
                    rows.append(
                        row(f"ours: {m['display']}{arch}", values, m["partial"], ranked=not m["random_init"])
                    )
                    ours.append((m, kind))
        note = "No result of ours on these metrics." if not ours else ""
        t = table(
            f"ref-{len(out)}", ref.name, [column(k, ref.metrics[k], None) for k in keys], rows, note=note
        )
        t.update(source=ref.source, protocol_differences=_differences(ref, ours, protocols))
        out.append(t)
    return out


# ---------------------------------------------------------------- provenance and assembly


def _input_provenance(m: dict, kind: str) -> dict:
    model = m["model"]
    entry = {"kind": kind, "file": m["source"], "model": m["name"], "labels": m["labels"]}
    for key in (
        "config",
        "config_sha256",
        "weights",
        "weights_sha256",
        "checkpoint",
        "checkpoint_sha256",
        "random_init",
        "num_params",
    ):
        if key in model:
            entry[key] = model[key]
    if kind == "robustness":
        entry["dataset"] = m["dataset"]
        entry["protocol"] = m["protocol"]
    else:
        entry["preprocessing"] = m["preprocessing"]
        entry["datasets"] = {
            d: {k: v for k, v in b.items() if k != "metrics"} for d, b in m["datasets"].items()
        }
    entry["provenance"] = m["provenance"]
    if m["notes"]:
        entry["notes"] = m["notes"]
    return entry


def build_report(
    detection: list[ResultFile],
    ood: list[ResultFile],
    protocols: dict,
    references: list[ReferenceTable],
    run_info: dict,
) -> dict:
    """The whole report as one JSON-able dict (schema ``fan_det.report/1``)."""
    det_models = [_detection_model(rf, protocols) for rf in detection]
    ood_models = [_ood_model(rf, protocols) for rf in ood]
    labelled = [m["display"] for m in det_models + ood_models if m["labels"]]
    return {
        "schema": SCHEMA,
        "scale": "0-100",
        "title": run_info.get("title", "fan_det robustness report"),
        "labelled_results": labelled,
        "detection": {
            "dataset": det_models[0]["dataset"] if det_models else None,
            "protocol": det_models[0]["protocol"] if det_models else None,
            "models": det_models,
            "tables": _detection_tables(det_models, protocols) if det_models else [],
        },
        "ood": {"models": ood_models, "tables": _ood_tables(ood_models, protocols) if ood_models else []},
        "references": _reference_tables(references, det_models, ood_models, protocols),
        "provenance": {
            "report": run_info,
            "inputs": [_input_provenance(m, "robustness") for m in det_models]
            + [_input_provenance(m, "ood") for m in ood_models],
        },
    }
