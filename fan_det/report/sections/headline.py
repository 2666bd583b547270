"""The report's opening table: one row per backbone, its classification, natural-shift and detection
robustness side by side, each with its 95% interval where the tool wrote one ("n/a" where not measured).

A row joins the results whose ``model.backbone`` agree (the model name where none is recorded), labelled
with the models' names and labels; a backbone with several classifiers or detectors gets one row per pair.
"""

from __future__ import annotations

from itertools import zip_longest

from fan_det.report.effective_robustness import SHIFTS, V2_VARIANT
from fan_det.report.sections.classification import metric
from fan_det.report.sections.common import display
from fan_det.report.tables import column, row, table

OOD_COLUMNS = (
    ("imagenet", "top1", "ImageNet top-1"),
    ("imagenet-a", "top1", "ImageNet-A"),
    ("imagenet-r", "top1", "ImageNet-R"),
    ("imagenet-sketch", "top1", "Sketch"),
    ("imagenet-v2", "top1", "V2"),
    ("imagenet-c", "mce", "IN-C mCE"),
    ("imagenet-c", "mean_acc_15", "IN-C mean top-1"),
)
DET_COLUMNS = (("P", "COCO P"), ("mPC", "COCO mPC"), ("rPC", "COCO rPC (%)"))


def _groups(det: list[dict], ood: list[dict], coco_o: list[dict]) -> list[tuple[str, dict | None, ...]]:
    backbones = list(dict.fromkeys(m["backbone"] for m in ood + det + coco_o))
    rows = []
    for b in backbones:
        pick = [[m for m in models if m["backbone"] == b] for models in (ood, det, coco_o)]
        rows += [(b, *ms) for ms in zip_longest(*pick)]
    return rows


def _label(backbone: str, models: list[dict]) -> str:
    """The backbone, then each model of the row with its own labels where its name is not the backbone's."""
    if all(m["name"] == backbone for m in models):
        return display(backbone, list(dict.fromkeys(label for m in models for label in m["labels"])))
    names = dict.fromkeys(m["display"] for m in models)  # a detector's COCO-C and COCO-O runs: one name
    return f"{backbone}: " + "; ".join(names)


def _headline_set(m: dict, dataset: str) -> bool:
    """ImageNetV2 counts in the headline as its matched-frequency test set only (other variants: n/a)."""
    return dataset != "imagenet-v2" or m["datasets"].get(dataset, {}).get("variant", V2_VARIANT) == V2_VARIANT


def headline_table(det: list[dict], ood: list[dict], coco_o: list[dict], effective: dict) -> dict:
    er_shifts = [s for s in SHIFTS if any(s in e for e in effective.get("models", {}).values())]
    columns = (
        [column(f"{d}/{k}", label, complete_only=d == "imagenet-c") for d, k, label in OOD_COLUMNS]
        + [column(f"er/{s}", f"ER {SHIFTS[s].title}") for s in er_shifts]
        + [column(f"coco/{k}", label, complete_only=k != "P") for k, label in DET_COLUMNS]
        + [column("coco-o/AP", "COCO-O mean AP", complete_only=True)]
    )
    groups = _groups(det, ood, coco_o)
    rows = []
    for backbone, o, d, c in groups:
        models = [m for m in (o, d, c) if m is not None]
        cells = [metric(o, ds, k) if o and _headline_set(o, ds) else (None, None) for ds, k, _ in OOD_COLUMNS]
        cells += [(effective["models"][o["name"]].get(s, {}).get("effective_robustness") if o else None, None)
                  for s in er_shifts]
        ap = d["summary"]["stats"].get("AP", {}) if d else {}
        cells += [(ap.get(k), ap.get(f"{k}_ci")) for k, _ in DET_COLUMNS]
        mean = c["summary"]["stats"].get("AP", {}) if c else {}
        cells.append((mean.get("mean"), mean.get("mean_ci")))
        spans = ((o, len(OOD_COLUMNS) + len(er_shifts)), (d, len(DET_COLUMNS)), (c, 1))
        partial = [bool(m and m["partial"]) for m, n in spans for _ in range(n)]
        partial[len(OOD_COLUMNS) : len(OOD_COLUMNS) + len(er_shifts)] = [False] * len(er_shifts)
        ranked = [not (m and m["random_init"]) for m, n in spans for _ in range(n)]
        values, intervals = zip(*cells, strict=True)
        label = _label(backbone, models)
        rows.append(row(label, list(values), partial, ranked=ranked, intervals=list(intervals)))
    title = ("One row per backbone: ImageNet and natural-shift top-1, ImageNet-C, effective robustness (ER, "
             "points above timm's line), COCO-C and COCO-O box AP")
    return table("headline", title, columns, rows, row_header="backbone")
