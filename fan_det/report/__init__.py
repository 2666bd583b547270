"""One report for classification, detection retention (COCO-C) and natural shift (COCO-O):
``python -m fan_det.report``.

``write_report(detection, ood, out_dir, coco_o=...)`` reads each registered section's results
(``fan_det.report.registry``; files through ``fan_det.results``, layouts in ``docs/schemas.md``), checks
them against one another and writes ``report.json`` (``fan_det.report/1``), ``report.md`` and a
self-contained ``report.html``.
"""

from fan_det.report.build import load_inputs, write_report
from fan_det.report.content import SCHEMA, build_report
from fan_det.report.inputs import ReportInputError
from fan_det.report.references import load_references

__all__ = ["SCHEMA", "ReportInputError", "build_report", "load_inputs", "load_references", "write_report"]
