"""OOD classification: each model's metrics per dataset as ``ood.json`` holds them, with the 95%
intervals the tool wrote beside its accuracies (``<key>_ci``), per corruption and per cell for ImageNet-C."""

from __future__ import annotations

from fan_det.protocol import BENCHMARK, HOLDOUT, OOD_DATASETS
from fan_det.report.inputs import ResultFile
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
