"""A corruption-grid document of any task: the cells an evaluation scored and their summary (P, mPC, rPC
of every stat, ``fan_det.metrics.corruption``). A kind names its headline stat and how a cell's stats
flatten into the summary's names; ``RobustnessResult`` (COCO-C, box AP) is one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from fan_det.metrics.corruption import corruption_summary
from fan_det.protocol import CLEAN_CELL, Cell
from fan_det.results.document import ResultDocument, ResultsError

CELL_KEYS = ("corruption", "severity", "num_images", "seconds", "stats")
# summaries are written from the same cells in the same process; this only absorbs float printing
TOLERANCE = 1e-6


class CorruptionGridResult(ResultDocument):
    """The grid document; a kind sets ``HEADLINE`` and, if its cells nest stats by task, ``flat_stats``."""

    INTERVALS: ClassVar[tuple[str, ...]] = ("P", "mPC")  # bootstrap intervals of the headline stat

    @staticmethod
    def flat_stats(stats: Mapping) -> dict[str, float]:
        """A cell's ``stats`` under the summary's stat names (here: as they are)."""
        return dict(stats)

    @classmethod
    def build(cls, *, model: Mapping, dataset: Mapping, protocol: Mapping, cells: Sequence[Mapping],
              allow_partial: bool, provenance: Mapping,
              intervals: Mapping | None = None) -> CorruptionGridResult:
        """The document of finished cell records (keys beyond the schema's dropped) and their summary.

        ``intervals`` (e.g. ``fan_det.robustness.bootstrap.bootstrap_intervals``) adds the headline stat's
        ``P_ci`` / ``mPC_ci``.
        """
        kept = [{k: cell[k] for k in CELL_KEYS} for cell in cells]
        grid = {Cell(c["corruption"], int(c["severity"])): cls.flat_stats(c["stats"]) for c in kept}
        summary = corruption_summary(grid, allow_partial=allow_partial)
        for key in cls.INTERVALS:
            if intervals and key in intervals:
                summary["stats"][cls.HEADLINE][f"{key}_ci"] = list(intervals[key])
        return cls({"schema": cls.schema(), "scale": "0-100", "model": dict(model), "dataset": dict(dataset),
                    "protocol": dict(protocol), "cells": kept, "summary": summary,
                    "provenance": dict(provenance)})

    @property
    def cells(self) -> list[dict]:
        return self.doc["cells"]

    @property
    def summary(self) -> dict:
        return self.doc["summary"]

    @property
    def partial(self) -> bool:
        return bool(self.summary.get("partial"))

    def stat(self, name: str | None = None) -> dict:
        """The summary of one stat (default: the headline): P, mPC, rPC and breakdowns."""
        return self.summary["stats"].get(name or self.HEADLINE, {})

    def check(self) -> None:
        for key, typ in (("dataset", dict), ("protocol", dict), ("cells", list), ("summary", dict),
                         ("provenance", dict)):
            self.require(self.doc, key, typ)
        self.require_headline()
        grid: dict[tuple, dict[str, float]] = {}
        for cell in self.cells:
            key = (cell.get("corruption"), cell.get("severity"))
            if key in grid:
                raise ResultsError(f"{self.where}: cell {key[0]} severity {key[1]} appears twice")
            if not isinstance(cell.get("stats"), dict):
                raise ResultsError(f"{self.where}: cell {key[0]} severity {key[1]} has no stats")
            grid[key] = self.flat_stats(cell["stats"])
        self.require_finite(self.summary["stats"], "summary")
        clean, p = grid.get(CLEAN_CELL, {}).get(self.HEADLINE), self.stat().get("P")
        if clean is not None and p is not None and abs(clean - p) > TOLERANCE:
            raise ResultsError(f"{self.where}: summary P {p} disagrees with the clean cell's "
                               f"{self.HEADLINE_LABEL} {clean}")
        for stat, block in self.summary["stats"].items():
            for corruption, value in block.get("per_corruption", {}).items():
                values = [g[stat] for (c, _), g in grid.items() if c == corruption and stat in g]
                if values and abs(sum(values) / len(values) - value) > TOLERANCE:
                    raise ResultsError(f"{self.where}: summary {stat} for {corruption} is {value}, "
                                       f"but its cells average {sum(values) / len(values):.6f}; "
                                       f"rerun {self.WRITER}")
        for key in self.INTERVALS:
            self.require_interval(self.stat(), f"{key}_ci")
        if not self.partial and self.summary.get("missing"):
            raise ResultsError(f"{self.where}: summary lists missing cells but is not marked partial")
