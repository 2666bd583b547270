"""Detection under natural shift (COCO-O): each detector's box AP per domain and the mean over domains,
as ``coco_o.json`` summarises them, with the bootstrap intervals ``eval_coco_o --bootstrap`` wrote."""

from __future__ import annotations

from fan_det.protocol import COCO_O_DOMAINS
from fan_det.report.inputs import ResultFile, merge_detection
from fan_det.report.sections.base import HeadlineColumn, Layout, Section
from fan_det.report.sections.common import RANDOM_LABEL, model_entry, model_row
from fan_det.report.tables import column, table


def coco_o_model(rf: ResultFile) -> dict:
    summary = rf.doc["summary"]
    labels = [RANDOM_LABEL] if rf.doc["model"].get("random_init") else []
    if summary.get("partial"):
        labels.append(f"partial COCO-O: {len(COCO_O_DOMAINS) - len(summary.get('missing', []))} of "
                      f"{len(COCO_O_DOMAINS)} domains")
    return {**model_entry(rf, labels, bool(summary.get("partial"))), "dataset": rf.doc["dataset"],
            "summary": summary}


def coco_o_tables(models: list[dict]) -> list[dict]:
    if not models:
        return []
    blocks = [m["summary"]["stats"].get("AP", {}) for m in models]
    columns = [column("mean", "mean AP", complete_only=True)] + [column(d) for d in COCO_O_DOMAINS]
    rows = [model_row(m, [b.get("mean")] + [b.get("per_domain", {}).get(d) for d in COCO_O_DOMAINS],
                      [b.get("mean_ci")] + [b.get("per_domain_ci", {}).get(d) for d in COCO_O_DOMAINS])
            for m, b in zip(models, blocks, strict=True)]
    return [table("coco-o-AP", "COCO-O box AP: mean over the six domains and per domain", columns, rows)]


def coco_o_layout(report: dict, _: dict[str, str]) -> Layout:
    block = report["coco_o"]
    return [("Detection: natural shift (COCO-O)", [("tables", block["tables"])])] if block["models"] else []


def _mean_ap(m: dict, _: dict) -> tuple[object, list | None]:
    mean = m["summary"]["stats"].get("AP", {})
    return mean.get("mean"), mean.get("mean_ci")


SECTION = Section(
    key="coco_o", kind="coco_o", flag="--coco-o",
    model=coco_o_model, merge=lambda files: merge_detection(files, "COCO-O"),
    content=lambda models: {"models": models, "tables": coco_o_tables(models)},
    headline_title="COCO-O box AP", layout=coco_o_layout,
    headline=lambda _: [HeadlineColumn(column("coco-o/AP", "COCO-O mean AP", complete_only=True), _mean_ap)],
    provenance=lambda m: {"dataset": m["dataset"]},
)
