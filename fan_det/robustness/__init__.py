"""Detection robustness of detectron2 detectors: COCO-C (``.run``) and COCO-O (``.coco_o``), each a job
(``.job``: options resolved once, then run on every process) of COCO-scored cells (``.task``, a
``fan_det.runtime.grid`` task) over the detector under test (``.detector``), with images from
``.source``, inference per cell (``.inference``), COCO scoring (``.scoring``) and bootstrap intervals
(``.bootstrap``). The command lines are ``python -m fan_det.eval_coco_c`` and ``eval_coco_o``.
"""
