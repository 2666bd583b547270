"""COCO-C evaluation of detectron2 detectors: ``run_coco_c`` (``fan_det.robustness.run``) and its parts:
the detector under test (``.detector``), where corrupted images come from (``.source``), inference per
cell (``.inference``), COCO scoring (``.scoring``), the grid (``.runner``) and its cache (``.cache``).
The command line is ``python -m fan_det.eval_coco_c``; the document is ``fan_det.results.RobustnessResult``.
"""
