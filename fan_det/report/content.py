"""The report's content (``fan_det.report/1``): a pure function of the checked inputs.

Everything ``report.md`` and ``report.html`` show is here, so the three files cannot disagree: the inputs'
own numbers and summaries (copied verbatim, never recomputed), the comparison tables with the best per
column marked (or ties where intervals overlap), published numbers beside ours with the protocol
differences, labels for partial or random-weight results, and the provenance of every input.
"""

from __future__ import annotations

from fan_det.report.inputs import ResultFile
from fan_det.report.references import ReferenceTable
from fan_det.report.sections.classification import ood_model, ood_tables
from fan_det.report.sections.coco_o import coco_o_model, coco_o_tables
from fan_det.report.sections.detection import detection_model, detection_tables
from fan_det.report.sections.effective import effective_robustness, effective_tables
from fan_det.report.sections.headline import headline_table
from fan_det.report.sections.provenance import input_provenance
from fan_det.report.sections.published import reference_tables

SCHEMA = "fan_det.report/1"


def build_report(
    detection: list[ResultFile],
    ood: list[ResultFile],
    references: list[ReferenceTable],
    run_info: dict,
    coco_o: list[ResultFile] = (),
) -> dict:
    """The whole report as one JSON-able dict (schema ``fan_det.report/1``)."""
    det_models = [detection_model(rf) for rf in detection]
    ood_models = [ood_model(rf) for rf in ood]
    coco_o_models = [coco_o_model(rf) for rf in coco_o]
    effective = effective_robustness(ood_models) if ood_models else {}
    labelled = [m["display"] for m in det_models + ood_models + coco_o_models if m["labels"]]
    return {
        "schema": SCHEMA,
        "scale": "0-100",
        "title": run_info.get("title", "fan_det robustness report"),
        "labelled_results": labelled,
        "headline": headline_table(det_models, ood_models, coco_o_models, effective),
        "detection": {
            "dataset": det_models[0]["dataset"] if det_models else None,
            "protocol": det_models[0]["protocol"] if det_models else None,
            "models": det_models,
            "tables": detection_tables(det_models) if det_models else [],
        },
        "coco_o": {"models": coco_o_models, "tables": coco_o_tables(coco_o_models)},
        "ood": {"models": ood_models, "tables": ood_tables(ood_models) if ood_models else []},
        "effective_robustness": {**effective, "tables": effective_tables(ood_models, effective)},
        "references": reference_tables(references, det_models, ood_models),
        "provenance": {
            "report": run_info,
            "inputs": [input_provenance(m, "robustness") for m in det_models]
            + [input_provenance(m, "coco_o") for m in coco_o_models]
            + [input_provenance(m, "ood") for m in ood_models],
        },
    }
