"""``robustness.json``: the cells a COCO-C evaluation scored and the summary (P, mPC, rPC) of them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from fan_det.metrics.detection import coco_c_summary
from fan_det.results.document import ResultDocument, ResultsError

CELL_KEYS = ("corruption", "severity", "num_images", "seconds", "stats")


def flatten_stats(stats: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """A cell's ``{"bbox": {"AP": ..}, "segm": {..}}`` as the summary's ``{"AP": .., "segm/AP": ..}``."""
    return {(k if task == "bbox" else f"{task}/{k}"): v
            for task, block in stats.items() for k, v in block.items()}


class RobustnessResult(ResultDocument):
    KIND = "robustness"
    MAJOR = 1
    FILE_NAME = "robustness.json"
    WRITER = "python -m fan_det.eval_coco_c"

    @classmethod
    def build(cls, *, model: Mapping, dataset: Mapping, protocol: Mapping, cells: Sequence[Mapping],
              allow_partial: bool, provenance: Mapping, intervals: Mapping | None = None) -> RobustnessResult:
        """The document of finished cell records (keys beyond the schema's dropped) and their summary.

        ``intervals`` (``fan_det.robustness.bootstrap.bootstrap_intervals``) adds box ``P_ci`` / ``mPC_ci``.
        """
        kept = [{k: cell[k] for k in CELL_KEYS} for cell in cells]
        grid = {(c["corruption"], int(c["severity"])): flatten_stats(c["stats"]) for c in kept}
        summary = coco_c_summary(grid, allow_partial=allow_partial)
        for key in ("P", "mPC"):
            if intervals and key in intervals:
                summary["stats"]["AP"][f"{key}_ci"] = list(intervals[key])
        return cls({"schema": cls.schema(), "scale": "0-100", "model": dict(model), "dataset": dict(dataset),
                    "protocol": dict(protocol), "cells": kept, "summary": summary,
                    "provenance": dict(provenance)})

    @classmethod
    def identity(cls, doc: Mapping) -> dict:
        """The model and the dataset: another dataset's results are another run's."""
        return {**super().identity(doc), "dataset": doc.get("dataset", {}).get("name")}

    @property
    def cells(self) -> list[dict]:
        return self.doc["cells"]

    @property
    def summary(self) -> dict:
        return self.doc["summary"]

    @property
    def partial(self) -> bool:
        return bool(self.summary.get("partial"))

    def stat(self, name: str = "AP") -> dict:
        """The summary of one stat (``"AP"``, ``"AP50"``, ``"segm/AP"``...): P, mPC, rPC and breakdowns."""
        return self.summary["stats"].get(name, {})

    def check(self) -> None:
        for key, typ in (("dataset", dict), ("protocol", dict), ("cells", list), ("summary", dict),
                         ("provenance", dict)):
            self.require(self.doc, key, typ)
        self.require_ap_summary()
        if not self.cells:
            raise ResultsError(f"{self.where}: no cells; rerun {self.WRITER}")
        grid: dict[tuple, dict[str, float]] = {}
        for cell in self.cells:
            key = (cell.get("corruption"), cell.get("severity")) if isinstance(cell, dict) else (cell, None)
            if not isinstance(key[0], str) or not isinstance(key[1], int) or isinstance(key[1], bool):
                raise ResultsError(f"{self.where}: cell {cell!r} has no corruption name and severity")
            if key in grid:
                raise ResultsError(f"{self.where}: cell {key[0]} severity {key[1]} appears twice")
            self.require_stats(cell.get("stats"), f"cell {key[0]} severity {key[1]}")
            grid[key] = flatten_stats(cell["stats"])
        self.require_finite(self.summary["stats"], "summary")
        for key in ("P_ci", "mPC_ci"):
            self.require_interval(self.stat("AP"), key)
        self.require_summary_of(lambda: coco_c_summary(grid, allow_partial=True), self.summary)
        if not self.partial and self.summary.get("missing"):
            raise ResultsError(f"{self.where}: summary lists missing cells but is not marked partial")
