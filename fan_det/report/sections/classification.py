"""OOD classification: each model's metrics per dataset as ``ood.json`` holds them, with the 95%
intervals the tool wrote beside its accuracies (``<key>_ci``), per corruption and per cell for ImageNet-C;
with them, effective robustness (``fan_det.report.sections.effective``)."""

from __future__ import annotations

from fan_det.protocol import BENCHMARK, HOLDOUT, OOD_DATASETS
from fan_det.report import plots
from fan_det.report.effective_robustness import V2_VARIANT
from fan_det.report.inputs import ResultFile, merge_ood
from fan_det.report.references import ReferenceTable
from fan_det.report.sections import common, effective
from fan_det.report.sections.base import HeadlineColumn, Layout, Section
from fan_det.report.sections.common import GRID_CELLS, RANDOM_LABEL, model_entry, model_row, ordered, slug
from fan_det.report.tables import column, row, table

OOD_TITLES = {
    "imagenet": "ImageNet val",
    "imagenet-a": "ImageNet-A",
    "imagenet-r": "ImageNet-R",
    "imagenet-sketch": "ImageNet-Sketch",
    "imagenet-c": "ImageNet-C",
    "imagenet-v2": "ImageNetV2",
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


def title(dataset: str) -> str:
    return OOD_TITLES.get(dataset, dataset)


def ood_model(rf: ResultFile) -> dict:
    """A model's entry; a partial ImageNet-C grid makes it ``partial`` (its IN-C figures are not ranked)."""
    doc = rf.doc
    labels = [RANDOM_LABEL] if doc["model"].get("random_init") else []
    partial = False
    for name, block in doc["datasets"].items():
        if block.get("num_skipped"):
            labels.append(f"{block['num_skipped']} {name} images skipped")
        cells = block["metrics"].get("per_cell")
        if cells is not None:
            bench = sum(1 for k in cells if k.split("/")[0] in BENCHMARK)
            if bench < GRID_CELLS:
                partial = True
                labels.append(f"partial ImageNet-C: {bench} of {GRID_CELLS} cells")
    return {
        **model_entry(rf, labels, partial),
        "preprocessing": doc.get("preprocessing", {}),
        "evaluation": doc.get("evaluation", {}),
        "datasets": doc["datasets"],
    }


def metric(m: dict, dataset: str, key: str) -> tuple[object, list | None]:
    """One metric of a model on a dataset and its interval (None where absent)."""
    metrics = m["datasets"].get(dataset, {}).get("metrics", {})
    return metrics.get(key), metrics.get(f"{key}_ci")


def metrics_row(m: dict, pairs: list[tuple[str, str]], extra: list | None = None) -> dict:
    """A model's row of ``(dataset, metric)`` values with their intervals, plus unranked ``extra``."""
    values, intervals = zip(*(metric(m, d, k) for d, k in pairs), strict=True) if pairs else ((), ())
    extra = extra or []
    return model_row(m, list(values) + extra, list(intervals) + [None] * len(extra))


def ood_tables(models: list[dict]) -> list[dict]:
    names = ordered({d for m in models for d in m["datasets"]}, OOD_DATASETS)
    glance = [(d, "mean_acc_15" if d == "imagenet-c" else "top1") for d in names]
    glance = [(d, k) for d, k in glance if any(metric(m, d, k)[0] is not None for m in models)]
    tables = []
    if glance:
        tables.append(
            table(
                "ood-glance",
                "Top-1 at a glance (masked 200-way for A and R; ImageNet-C: mean over 15 corruptions)",
                [column(f"{d}/{k}", title(d), complete_only=d == "imagenet-c") for d, k in glance],
                [metrics_row(m, glance) for m in models],
            )
        )
    for d in names:
        tables += dataset_tables(d, [m for m in models if d in m["datasets"]])
    return tables


def dataset_tables(d: str, present: list[dict]) -> list[dict]:
    first = present[0]["datasets"][d]
    keys = ordered(
        {k for m in present for k, v in m["datasets"][d]["metrics"].items() if isinstance(v, int | float)},
        OOD_METRICS,
    )
    extra = [k for k in ("num_skipped", "classes_present") if any(k in m["datasets"][d] for m in present)]
    tables = [
        table(
            f"ood-{d}",
            f"{title(d)} ({first.get('num_images')} images)",
            [column(k, complete_only=d == "imagenet-c") for k in keys]
            + [column(k, k.replace("_", " "), None) for k in extra],
            [
                metrics_row(m, [(d, k) for k in keys], [m["datasets"][d].get(k) for k in extra])
                for m in present
            ],
        )
    ]
    per_corruption = [m["datasets"][d]["metrics"].get("per_corruption") or {} for m in present]
    if any(per_corruption):
        corruptions = [c for c in BENCHMARK + HOLDOUT if any(c in pc for pc in per_corruption)]
        corruptions += sorted({c for pc in per_corruption for c in pc} - set(corruptions))
        tables.append(
            table(
                f"ood-{d}-per-corruption",
                f"{title(d)} top-1 per corruption (mean over severities)",
                [column(c, complete_only=d == "imagenet-c") for c in corruptions],
                [
                    model_row(m, [pc.get(c) for c in corruptions])
                    for m, pc in zip(present, per_corruption, strict=True)
                ],
                section="appendix",
            )
        )
    for m in present:
        if m["datasets"][d]["metrics"].get("per_cell"):
            tables.append(per_cell_table(d, m))
    return tables


def per_cell_table(d: str, m: dict) -> dict:
    metrics = m["datasets"][d]["metrics"]
    cells, intervals = metrics["per_cell"], metrics.get("per_cell_ci", {})
    corruptions = ordered({k.split("/")[0] for k in cells}, BENCHMARK + HOLDOUT)
    severities = sorted({int(k.split("/")[1]) for k in cells})
    return table(
        f"ood-{d}-cells-{slug(m['name'])}",
        f"{title(d)} top-1 per cell: {m['display']}",
        [column(f"severity:{s}", f"sev {s}", None) for s in severities],
        [
            row(
                c,
                [cells.get(f"{c}/{s}") for s in severities],
                intervals=[intervals.get(f"{c}/{s}") for s in severities],
            )
            for c in corruptions
        ],
        section="appendix",
        row_header="corruption",
    )


def ood_layout(report: dict, figures: dict[str, str]) -> Layout:
    ood = report["ood"]
    if not ood["models"]:
        return []
    blocks: list[tuple[str, object]] = [
        ("text", "Masked 200-way top-1 is primary for ImageNet-A and ImageNet-R; 'unmasked' is 1000-way."),
        ("tables", common.main_tables(ood)),
    ]
    if "ood-bars" in figures:
        blocks.append(("figure", "ood-bars"))
    return [("Out-of-distribution classification", blocks), *effective.effective_layout(report, figures)]


def ood_figures(report: dict) -> dict:
    glance = [t for t in report["ood"]["tables"] if t["id"] == "ood-glance"]
    figures = {}
    if glance:
        figures["ood-bars"] = ("Top-1 per OOD dataset and model, with 95% intervals where measured",
                               plots.ood_bars_figure(glance[0]))
    return figures | effective.effective_figures(report)


HEADLINE_METRICS = (
    ("imagenet", "top1", "ImageNet top-1"),
    ("imagenet-a", "top1", "ImageNet-A"),
    ("imagenet-r", "top1", "ImageNet-R"),
    ("imagenet-sketch", "top1", "Sketch"),
    ("imagenet-v2", "top1", "V2"),
    ("imagenet-c", "mce", "IN-C mCE"),
    ("imagenet-c", "mean_acc_15", "IN-C mean top-1"),
)


def _headline_set(m: dict, dataset: str) -> bool:
    """ImageNetV2 counts in the headline as its matched-frequency test set only (other variants: n/a)."""
    return dataset != "imagenet-v2" or m["datasets"].get(dataset, {}).get("variant", V2_VARIANT) == V2_VARIANT


def _metric(dataset: str, key: str):
    def cell(m: dict, _: dict) -> tuple[object, list | None]:
        return metric(m, dataset, key) if _headline_set(m, dataset) else (None, None)

    return cell


def ood_headline(report: dict) -> list[HeadlineColumn]:
    columns = [HeadlineColumn(column(f"{d}/{k}", label, complete_only=d == "imagenet-c"), _metric(d, k))
               for d, k, label in HEADLINE_METRICS]
    return columns + effective.effective_headline(report)


def ood_provenance(m: dict) -> dict:
    return {"preprocessing": m["preprocessing"], "evaluation": m["evaluation"],
            "datasets": {d: {k: v for k, v in b.items() if k != "metrics"} for d, b in m["datasets"].items()}}


def reference_value(key: str, m: dict) -> float | None:
    """Our number for a published ``<dataset>/<metric>`` key of a classification table, or None."""
    dataset, _, name = key.partition("/")
    if dataset == "detection":
        return None
    metrics = m["datasets"].get(dataset, {}).get("metrics", {})
    if key == "imagenet-c/mean_acc":
        return metrics.get("mean_acc_15")
    if key == "imagenet/error":
        return None if metrics.get("top1") is None else 100.0 - metrics["top1"]
    return metrics.get(name)


def reference_line(ref: ReferenceTable, m: dict) -> str:
    pre = m["preprocessing"]
    datasets = {k.partition("/")[0] for k in ref.metrics}
    sets = ", ".join(f"{d} {b.get('num_images')} images" for d, b in m["datasets"].items() if d in datasets)
    in_c = ("; IN-C compared as our mean top-1 over the 15 benchmark corruptions"
            if "imagenet-c/mean_acc" in ref.metrics else "")
    return (f"Ours ({m['display']}): {sets}; input {pre.get('input_size')}, "
            f"crop_pct {pre.get('crop_pct')}, {pre.get('interpolation')}{in_c}.")


SECTION = Section(
    key="ood", kind="ood", flag="--ood",
    model=ood_model, merge=merge_ood,
    content=lambda models: {"models": models, "tables": ood_tables(models) if models else []},
    headline_title=("ImageNet and natural-shift top-1, ImageNet-C, effective robustness (ER, points above "
                    "timm's line)"),
    layout=ood_layout, figures=ood_figures, headline=ood_headline, derived=effective.effective_block,
    provenance=ood_provenance,
    reference_task="classification", reference_value=reference_value, reference_line=reference_line,
)
