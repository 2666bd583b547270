"""The report's content (``fan_det.report/1``): a pure function of the checked inputs.

Everything ``report.md`` and ``report.html`` show is here, so the three files cannot disagree: each
registered section's block (the inputs' own numbers and summaries, copied verbatim, never recomputed, and
its comparison tables with the best per column marked, or ties where intervals overlap), the headline
table, published numbers beside ours with the protocol differences, labels for partial or random-weight
results, and the provenance of every input.
"""

from __future__ import annotations

from collections.abc import Mapping

from fan_det.report import registry
from fan_det.report.inputs import ResultFile
from fan_det.report.references import ReferenceTable
from fan_det.report.sections.headline import headline_table
from fan_det.report.sections.provenance import input_provenance
from fan_det.report.sections.published import reference_tables

SCHEMA = "fan_det.report/1"


def build_report(inputs: Mapping[str, list[ResultFile]], references: list[ReferenceTable],
                 run_info: dict) -> dict:
    """The whole report as one JSON-able dict (schema ``fan_det.report/1``); ``inputs`` maps each
    registered section's key to its merged files."""
    sections = registry.SECTIONS
    title = run_info.get("title", "fan_det robustness report")
    report: dict = {"schema": SCHEMA, "scale": "0-100", "title": title}
    for s in sections:
        report[s.key] = s.content([s.model(rf) for rf in inputs.get(s.key, [])])
        report.update(s.derived(report[s.key]))
    models = [(s, m) for s in sections for m in report[s.key]["models"]]
    report["labelled_results"] = [m["display"] for _, m in models if m["labels"]]
    report["headline"] = headline_table(report, sections)
    report["references"] = reference_tables(references, report, sections)
    report["provenance"] = {"report": run_info,
                            "inputs": [input_provenance(m, s.kind, s.provenance(m)) for s, m in models]}
    return report
