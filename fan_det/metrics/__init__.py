"""Robustness metrics: pure functions of numbers (no I/O), each citing the definition it implements."""

from fan_det.metrics.classification import (  # noqa: F401
    accuracy,
    aurra,
    calibration_error,
    masked_outcomes,
    retention,
    topk_accuracy,
    topk_correct,
)
from fan_det.metrics.corruption import IncompleteGridError, corruption_summary  # noqa: F401
from fan_det.metrics.detection import coco_o_summary  # noqa: F401
from fan_det.metrics.imagenet_c import ALEXNET_ERRORS, imagenet_c_summary, mce, mean_accuracy  # noqa: F401
