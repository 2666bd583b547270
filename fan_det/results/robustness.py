"""``robustness.json``: a detector's COCO-C grid (box and mask stats per cell) and its summary."""

from __future__ import annotations

from collections.abc import Mapping

from fan_det.results.grid import CorruptionGridResult


def flatten_stats(stats: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """A cell's ``{"bbox": {"AP": ..}, "segm": {..}}`` as the summary's ``{"AP": .., "segm/AP": ..}``."""
    return {(k if task == "bbox" else f"{task}/{k}"): v
            for task, block in stats.items() for k, v in block.items()}


class RobustnessResult(CorruptionGridResult):
    KIND = "robustness"
    MAJOR = 1
    FILE_NAME = "robustness.json"
    WRITER = "python -m fan_det.eval_coco_c"
    HEADLINE = "AP"
    HEADLINE_LABEL = "box AP"

    @staticmethod
    def flat_stats(stats: Mapping) -> dict[str, float]:
        return flatten_stats(stats)
