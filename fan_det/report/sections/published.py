"""Published numbers beside ours: each reference table of ``eval/reference/`` with the rows of every
section that fills its task (``Section.reference_task``) on the same metrics, and the protocol
differences stated."""

from __future__ import annotations

from collections.abc import Sequence

from fan_det.report.references import ReferenceTable
from fan_det.report.sections.base import Section
from fan_det.report.sections.common import model_row
from fan_det.report.tables import column, row, table


def differences(ref: ReferenceTable, ours: list[tuple[dict, Section]]) -> list[str]:
    lines = [f"Theirs: {ref.protocol}."]
    for m, section in ours:
        lines.append(section.reference_line(ref, m))
        if m["labels"]:
            lines.append(
                f"Ours ({m['name']}) is labelled: {', '.join(m['labels'])}: not comparable as a score."
            )
    return lines


def reference_tables(refs: list[ReferenceTable], report: dict, sections: Sequence[Section]) -> list[dict]:
    out = []
    for ref in refs:
        keys = list(ref.metrics)
        rows = [
            row(f"{r['model']} (published)", [r.get(k) for k in keys], kind="published") for r in ref.rows
        ]
        ours: list[tuple[dict, Section]] = []
        tasks = [s for s in sections if s.reference_task == ref.task]
        for m, section in [(m, s) for s in tasks for m in report[s.key]["models"]]:
            values = [section.reference_value(k, m) for k in keys]
            if any(v is not None for v in values):
                same = [
                    r["model"]
                    for r in ref.rows
                    if r.get("timm_name") and m["name"].startswith(r["timm_name"])
                ]
                arch = f" (architecture of {same[0]})" if same else ""
                rows.append(model_row(m, values, label=f"ours: {m['display']}{arch}"))
                ours.append((m, section))
        note = "" if ours else "No result of ours on these metrics."
        t = table(
            f"ref-{len(out)}", ref.name, [column(k, ref.metrics[k], None) for k in keys], rows, note=note
        )
        t.update(source=ref.source, protocol_differences=differences(ref, ours))
        out.append(t)
    return out
