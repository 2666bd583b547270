"""The report's opening table: one row per backbone, each registered section's headline columns side by
side (classification, natural-shift and detection robustness), each value with its 95% interval where the
tool wrote one ("n/a" where not measured).

A row joins the results whose ``model.backbone`` agree (the model name where none is recorded), labelled
with the models' names and labels; a backbone with several models in one section gets one row per
combination, in the sections' order (``zip_longest``).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import zip_longest

from fan_det.report.sections.base import Section
from fan_det.report.sections.common import display
from fan_det.report.tables import row, table


def _label(backbone: str, models: list[dict]) -> str:
    """The backbone, then each model of the row with its own labels where its name is not the backbone's."""
    if all(m["name"] == backbone for m in models):
        return display(backbone, list(dict.fromkeys(label for m in models for label in m["labels"])))
    names = dict.fromkeys(m["display"] for m in models)  # a detector's COCO-C and COCO-O runs: one name
    return f"{backbone}: " + "; ".join(names)


def _title(sections: Sequence[Section]) -> str:
    parts = [s.headline_title for s in sections]
    listed = ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else "".join(parts)
    return f"One row per backbone: {listed}"


def headline_table(report: dict, sections: Sequence[Section]) -> dict:
    spans = [(s, s.headline(report)) for s in sections]
    models = [report[s.key]["models"] for s in sections]
    backbones = dict.fromkeys(m["backbone"] for ms in models for m in ms)
    rows = []
    for backbone in backbones:
        picked = [[m for m in ms if m["backbone"] == backbone] for ms in models]
        for combination in zip_longest(*picked):
            values, intervals, partial, ranked = [], [], [], []
            for m, (_, columns) in zip(combination, spans, strict=True):
                for col in columns:
                    value, interval = col.cell(m, report) if m is not None else (None, None)
                    values.append(value)
                    intervals.append(interval)
                    partial.append(bool(m and m["partial"] and col.partial))
                    ranked.append(not (m and m["random_init"]))
            label = _label(backbone, [m for m in combination if m is not None])
            rows.append(row(label, values, partial, ranked=ranked, intervals=intervals))
    columns = [col.column for _, cols in spans for col in cols]
    return table("headline", _title(sections), columns, rows, row_header="backbone")
