"""The results files, typed: ``robustness.json``, ``coco_o.json``, ``ood.json``, ``segmentation.json`` and
``acdc.json``, written by the tools and read by the report.

Each kind is one class with its schema version, its validation, ``load`` and ``dump``; nothing else in
the project parses or writes these files. Layouts: ``docs/schemas.md``.
"""

from fan_det.results.coco_o import CocoOResult
from fan_det.results.document import ResultDocument, ResultsError
from fan_det.results.grid import CorruptionGridResult
from fan_det.results.ood import OODResult
from fan_det.results.robustness import RobustnessResult, flatten_stats
from fan_det.results.segmentation import AcdcResult, SegmentationResult

KINDS: dict[str, type[ResultDocument]] = {cls.KIND: cls for cls in (RobustnessResult, OODResult, CocoOResult,
                                                                    SegmentationResult, AcdcResult)}

__all__ = ["KINDS", "AcdcResult", "CocoOResult", "CorruptionGridResult", "OODResult", "ResultDocument",
           "ResultsError", "RobustnessResult", "SegmentationResult", "flatten_stats"]
