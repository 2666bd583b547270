"""A corruption-grid document of any task: the cells an evaluation scored and their summary (P, mPC, rPC
of every stat, ``fan_det.metrics.corruption``). A kind names its headline stat and how a cell's stats
flatten into the summary's names; ``RobustnessResult`` (COCO-C, box AP) is one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from fan_det.metrics.corruption import corruption_summary
from fan_det.protocol import Cell
from fan_det.results.document import ResultDocument, ResultsError

CELL_KEYS = ("corruption", "severity", "num_images", "seconds", "stats")


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

    def stat(self, name: str | None = None) -> dict:
        """The summary of one stat (default: the headline): P, mPC, rPC and breakdowns."""
        return self.summary["stats"].get(name or self.HEADLINE, {})

    def check(self) -> None:
        """Every summary figure equals what the document's own cells give (``corruption_summary`` of them),
        whatever the headline stat; malformed cells are refused with one line."""
        for key, typ in (("dataset", dict), ("protocol", dict), ("cells", list), ("summary", dict),
                         ("provenance", dict)):
            self.require(self.doc, key, typ)
        self.require_headline()
        if not self.cells:
            raise ResultsError(f"{self.where}: no cells; rerun {self.WRITER}")
        grid: dict[Cell, dict] = {}
        for cell in self.cells:
            key = (cell.get("corruption"), cell.get("severity")) if isinstance(cell, dict) else (cell, None)
            if not isinstance(key[0], str) or not isinstance(key[1], int) or isinstance(key[1], bool):
                raise ResultsError(f"{self.where}: cell {cell!r} has no corruption name and severity")
            if key in grid:
                raise ResultsError(f"{self.where}: cell {key[0]} severity {key[1]} appears twice")
            self.require_stats(cell.get("stats"), f"cell {key[0]} severity {key[1]}")
            grid[Cell(*key)] = cell["stats"]
        self.require_finite(self.summary["stats"], "summary")
        for key in self.INTERVALS:
            self.require_interval(self.stat(), f"{key}_ci")
        self.require_summary_of(lambda: self.summary_of(grid), self.summary, self._source)
        if not self.partial and self.summary.get("missing"):
            raise ResultsError(f"{self.where}: summary lists missing cells but is not marked partial")

    def summary_of(self, grid: dict[Cell, dict]) -> dict:
        """The summary the cells' stats give (a kind that averages under another protocol overrides it)."""
        return corruption_summary({c: self.flat_stats(s) for c, s in grid.items()}, allow_partial=True)

    def _source(self, key: str) -> str:
        """What a summary figure is computed from, as a refusal names it: P from the clean cell."""
        stat, _, figure = key.removeprefix("stats.").rpartition(".")
        if figure != "P" or key.startswith("holdout."):
            return "its cells"
        return f"the clean cell's {self.HEADLINE_LABEL if stat == self.HEADLINE else stat}"
