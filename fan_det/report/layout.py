"""The order of the report's content, shared by the Markdown and HTML renderers.

``layout(report)`` yields sections of blocks: ("text", str), ("warning", str), ("tables", [table, ...])
(side by side where the medium allows), ("figure", figure id), ("list", [str, ...]), ("kv", {key: value}).
"""

from __future__ import annotations

import json

LEGEND = (
    "All numbers are on the 0-100 scale (rPC and retention in percent); [lo, hi] is the 95% interval the "
    "evaluation wrote beside a number (Wilson score for accuracies), n/a a figure not measured. **Bold** "
    "marks the best of our results in each column (lower is better for mCE, relative mCE, calibration "
    "error and the IN-R gap; mPC, rPC and ImageNet-C figures rank complete grids only); where the best "
    "value's interval overlaps another's, none is best and the overlapping ones are marked (tied). "
    "Published numbers are never ranked."
)
ER_TEXT = (
    "Effective robustness (Taori et al. 2020; Miller et al. 2021): a model's OOD top-1 minus the top-1 "
    "predicted at its ID top-1 by the line through timm's published models, fitted on logit-scaled "
    "accuracies. Positive: more robust than its ImageNet accuracy predicts. ImageNet-A and -R pair with "
    "ImageNet val on their 200 classes, Sketch and V2 (matched frequency) with full ImageNet val."
)


def _main(tables: list[dict], prefix: str) -> list[dict]:
    return [t for t in tables if t["section"] == "main" and t["id"].startswith(prefix)]


def _value(v: object) -> str:
    return v if isinstance(v, str) else json.dumps(v)


def _kv(entry: dict) -> dict[str, str]:
    out = {}
    for key, value in entry.items():
        if isinstance(value, dict) and key in (
            "provenance",
            "protocol",
            "dataset",
            "preprocessing",
            "evaluation",
            "datasets",
        ):
            for sub, v in value.items():
                out[f"{key}.{sub}"] = _value(v)
        else:
            out[key] = _value(value)
    return out


def layout(report: dict, figures: dict[str, str]) -> list[tuple[str, list[tuple[str, object]]]]:
    """Sections ``(heading, blocks)``; ``figures`` maps figure ids to captions (only those drawn)."""
    sections = []
    intro: list[tuple[str, object]] = [("text", LEGEND)]
    if report["labelled_results"]:
        intro.append(
            (
                "warning",
                "Labelled results (random weights are not a trained model; partial results "
                "cover only the cells named): " + "; ".join(report["labelled_results"]),
            )
        )
    sections.append(("", intro))
    sections.append(("At a glance: one row per backbone", [("tables", [report["headline"]])]))

    det = report["detection"]
    if det["models"]:
        ds, p = det["dataset"], det["protocol"]
        blocks: list[tuple[str, object]] = [
            (
                "text",
                (
                    f"Dataset {ds.get('name')} ({ds.get('num_images')} images). Corruptions: "
                    f"{', '.join(p.get('corruptions', []))}; severities {p.get('severities')}; "
                    f"seed {p.get('seed')}; {p.get('mode')}. P = clean AP, "
                    "mPC = mean over the 15 benchmark corruptions x 5 severities, "
                    "rPC = mPC / P. Holdout corruptions are reported apart and never enter mPC."
                ),
            )
        ]
        main = _main(det["tables"], "det-")
        blocks.append(("tables", main))
        blocks += [("figure", f) for f in ("det-heatmap", "det-severity") if f in figures]
        for m in det["models"]:
            if m["missing"]:
                cells = ", ".join(f"{c}/{s}" for c, s in m["missing"])
                blocks.append(("warning", f"{m['display']}: cells not evaluated: {cells}"))
        sections.append(("Detection: retention under corruption", blocks))

    if report["coco_o"]["models"]:
        sections.append(("Detection: natural shift (COCO-O)", [("tables", report["coco_o"]["tables"])]))

    ood = report["ood"]
    if ood["models"]:
        blocks = [
            ("text", "Masked 200-way top-1 is primary for ImageNet-A and ImageNet-R; 'unmasked' is 1000-way.")
        ]
        main = _main(ood["tables"], "ood-")
        blocks.append(("tables", main))
        if "ood-bars" in figures:
            blocks.append(("figure", "ood-bars"))
        sections.append(("Out-of-distribution classification", blocks))

    effective = report["effective_robustness"]
    if effective["tables"]:
        blocks = [("text", ER_TEXT), ("tables", effective["tables"])]
        blocks += [("figure", f) for f in figures if f.startswith("er-")]
        blocks += [("text", "The fit (timm's results files by content hash, the lines)"),
                   ("kv", _kv(effective["reference"]))]
        sections.append(("Effective robustness", blocks))

    blocks = []
    for t in report["references"]:
        blocks.append(("tables", [t]))
        blocks.append(("text", f"Source: {t['source']}"))
        blocks.append(("list", t["protocol_differences"]))
    sections.append(("Published numbers beside ours", blocks))

    prov = report["provenance"]
    blocks = [("text", "This report"), ("kv", _kv(prov["report"]))]
    for entry in prov["inputs"]:
        blocks.append(("text", f"Input: {entry['model']} ({entry['kind']}, {entry['file']})"))
        blocks.append(("kv", _kv(entry)))
    sections.append(("Provenance", blocks))

    appendix = [t for t in det["tables"] + ood["tables"] if t["section"] == "appendix"]
    if appendix:
        sections.append(("Appendix: every number", [("tables", [t]) for t in appendix]))
    return sections
