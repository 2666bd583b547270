"""The report's sections, registered in the order the headline's columns and the document show them.

A new section is a module under ``fan_det/report/sections/`` defining ``SECTION`` (``sections.base``) and
one line here; ``docs/report.md`` says how.
"""

from __future__ import annotations

from fan_det.report.sections import classification, coco_o, detection, segmentation
from fan_det.report.sections.base import Section

SECTIONS: tuple[Section, ...] = (
    classification.SECTION,
    detection.SECTION,
    coco_o.SECTION,
    segmentation.SECTION,
    segmentation.ACDC_SECTION,
)
