"""``segmentation.json`` (a corruption grid of a semantic-segmentation model: every cell's mIoU and per-class
IoU, the protocol's mean under corruption and retention) and ``acdc.json`` (mIoU per ACDC condition)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from statistics import fmean

from fan_det.metrics.segmentation import protocol_summary
from fan_det.protocol import ACDC_CONDITIONS, PROTOCOLS
from fan_det.results.document import ResultDocument, ResultsError

CELL_KEYS = ("corruption", "severity", "num_images", "seconds", "stats")
INTERVALS = ("clean", "mean", "retention")
# summaries are written from the same cells in the same process; this only absorbs float printing
TOLERANCE = 1e-6


class SegmentationResult(ResultDocument):
    KIND = "segmentation"
    MAJOR = 1
    FILE_NAME = "segmentation.json"
    WRITER = "python -m fan_det.eval_city_c"
    HEADLINE = "mIoU"

    @classmethod
    def build(cls, *, model: Mapping, dataset: Mapping, protocol: str, settings: Mapping,
              cells: Sequence[Mapping], allow_partial: bool, provenance: Mapping,
              intervals: Mapping | None = None) -> SegmentationResult:
        """The document of finished cell records (``stats`` from ``metrics.segmentation.cell_stats``) and
        the summary of ``protocol`` over them; ``settings`` (seed, mode, corruption library...) join the
        protocol's record. ``intervals`` (``bootstrap_grid``) adds ``clean_ci``, ``mean_ci``,
        ``retention_ci`` and its settings under ``protocol.bootstrap``."""
        kept = [{k: cell[k] for k in CELL_KEYS} for cell in cells]
        summary = protocol_summary({(c["corruption"], int(c["severity"])): c["stats"]["mIoU"] for c in kept},
                                   PROTOCOLS[protocol], allow_partial=allow_partial)
        record = {**PROTOCOLS[protocol].record(), **settings}
        for key in INTERVALS:
            if intervals and key in intervals:
                summary[f"{key}_ci"] = list(intervals[key])
        if intervals:
            record["bootstrap"] = {k: intervals[k] for k in ("method", "resamples", "seed", "level")}
        return cls({"schema": cls.schema(), "scale": "0-100", "model": dict(model), "dataset": dict(dataset),
                    "protocol": record, "cells": kept, "summary": summary, "provenance": dict(provenance)})

    @property
    def cells(self) -> list[dict]:
        return self.doc["cells"]

    @property
    def summary(self) -> dict:
        return self.doc["summary"]

    @property
    def protocol(self) -> dict:
        return self.doc["protocol"]

    @property
    def partial(self) -> bool:
        return bool(self.summary.get("partial"))

    def check(self) -> None:
        for key, typ in (("dataset", dict), ("protocol", dict), ("cells", list), ("summary", dict),
                         ("provenance", dict)):
            self.require(self.doc, key, typ)
        self.require(self.doc["dataset"], "classes", list, where="dataset")
        self._check_protocol()
        grid = self._check_cells()
        self.require_finite(self.summary, "summary")
        clean, shown = grid.get(("clean", 0)), self.summary.get("clean")
        if clean is not None and (shown is None or abs(clean - shown) > TOLERANCE):
            raise ResultsError(f"{self.where}: summary clean mIoU {shown} disagrees with the clean cell's "
                               f"{clean}; rerun {self.WRITER}")
        for corruption, value in self.summary.get("per_corruption", {}).items():
            values = [v for (c, s), v in grid.items() if c == corruption and s in self.protocol["severities"]]
            if not values or abs(fmean(values) - value) > TOLERANCE:
                raise ResultsError(f"{self.where}: summary mIoU for {corruption} is {value}, but its cells "
                                   f"average {fmean(values) if values else 'nothing'}; rerun {self.WRITER}")
        mean, ret = self.summary.get("mean"), self.summary.get("retention")
        if None not in (mean, ret, shown) and abs(100 * mean / shown - ret) > TOLERANCE:
            raise ResultsError(f"{self.where}: retention {ret} is not mean / clean ({mean} / {shown})")
        for key in INTERVALS:
            self.require_interval(self.summary, f"{key}_ci")
        if not self.partial and self.summary.get("missing"):
            raise ResultsError(f"{self.where}: summary lists missing cells but is not marked partial")

    def _check_protocol(self) -> None:
        name = self.protocol.get("name")
        known = PROTOCOLS.get(name)
        if known is None:
            raise ResultsError(f"{self.where}: unknown protocol {name!r}; protocols: {', '.join(PROTOCOLS)}")
        for key in ("corruptions", "severities"):
            if self.protocol.get(key) != list(getattr(known, key)):
                raise ResultsError(f"{self.where}: protocol {name!r} lists other {key} than fan_det's "
                                   f"definition; rerun {self.WRITER}")
        if self.summary.get("protocol") != name:
            raise ResultsError(f"{self.where}: summary is of protocol {self.summary.get('protocol')!r}, "
                               f"the file's is {name!r}")

    def _check_cells(self) -> dict[tuple, float]:
        """Each cell once, its mIoU the mean of its per-class IoU over the dataset's classes."""
        classes = set(self.doc["dataset"]["classes"])
        grid: dict[tuple, float] = {}
        for cell in self.cells:
            key = (cell.get("corruption"), cell.get("severity"))
            where = f"cell {key[0]} severity {key[1]}"
            if key in grid:
                raise ResultsError(f"{self.where}: {where} appears twice")
            stats = cell.get("stats")
            if not isinstance(stats, dict) or not isinstance(stats.get("IoU"), dict) \
                    or not isinstance(stats.get("mIoU"), (int, float)):
                raise ResultsError(f"{self.where}: {where} has no mIoU and per-class IoU")
            unknown = sorted(set(stats["IoU"]) - classes)
            if unknown:
                raise ResultsError(f"{self.where}: {where} scores classes {unknown} the dataset lacks")
            if stats["IoU"] and abs(fmean(stats["IoU"].values()) - stats["mIoU"]) > TOLERANCE:
                raise ResultsError(f"{self.where}: {where}'s mIoU {stats['mIoU']} is not the mean of its "
                                   f"per-class IoU; rerun {self.WRITER}")
            grid[key] = stats["mIoU"]
        return grid


class AcdcResult(ResultDocument):
    """mIoU on each ACDC condition (Sakaridis et al. 2021) and their mean: natural shift."""

    KIND = "acdc"
    MAJOR = 1
    FILE_NAME = "acdc.json"
    WRITER = "python -m fan_det.eval_acdc"
    HEADLINE = "mIoU"

    @classmethod
    def build(cls, *, model: Mapping, dataset: Mapping, conditions: Mapping[str, Mapping],
              provenance: Mapping, intervals: Mapping | None = None) -> AcdcResult:
        """``conditions`` maps a condition to ``num_images``, ``seconds`` and ``stats`` (``cell_stats``);
        ``intervals`` (``bootstrap_domains``) adds ``mean_ci`` and ``per_condition_ci``."""
        kept = {c: {k: r[k] for k in ("num_images", "seconds", "stats")}
                for c in ACDC_CONDITIONS if (r := conditions.get(c)) is not None}
        unknown = sorted(set(conditions) - set(ACDC_CONDITIONS))
        if unknown:
            raise ValueError(f"unknown ACDC condition(s) {unknown}; conditions: {', '.join(ACDC_CONDITIONS)}")
        per_condition = {c: r["stats"]["mIoU"] for c, r in kept.items()}
        summary: dict = {"partial": len(kept) < len(ACDC_CONDITIONS),
                         "missing": [c for c in ACDC_CONDITIONS if c not in kept],
                         "per_condition": per_condition}
        if per_condition:
            summary["mean"] = fmean(per_condition.values())
        if intervals:
            if "mean" in intervals:
                summary["mean_ci"] = list(intervals["mean"])
            summary["per_condition_ci"] = {c: list(i) for c, i in intervals.get("per_domain", {}).items()}
            provenance = {**provenance,
                          "bootstrap": {k: intervals[k] for k in ("method", "resamples", "seed", "level")}}
        return cls({"schema": cls.schema(), "scale": "0-100", "model": dict(model), "dataset": dict(dataset),
                    "conditions": kept, "summary": summary, "provenance": dict(provenance)})

    @property
    def summary(self) -> dict:
        return self.doc["summary"]

    def check(self) -> None:
        for key, typ in (("dataset", dict), ("conditions", dict), ("summary", dict), ("provenance", dict)):
            self.require(self.doc, key, typ)
        self.require_finite(self.summary, "summary")
        unknown = sorted(set(self.doc["conditions"]) - set(ACDC_CONDITIONS))
        if unknown:
            raise ResultsError(f"{self.where}: unknown ACDC condition(s) {unknown}")
        shown = self.summary.get("per_condition", {})
        for condition, record in self.doc["conditions"].items():
            value = record.get("stats", {}).get("mIoU") if isinstance(record, dict) else None
            if value is None or abs(value - shown.get(condition, float("inf"))) > TOLERANCE:
                raise ResultsError(f"{self.where}: condition {condition}'s mIoU {value} disagrees with the "
                                   f"summary's {shown.get(condition)}; rerun {self.WRITER}")
        if shown and abs(fmean(shown.values()) - self.summary.get("mean", float("inf"))) > TOLERANCE:
            raise ResultsError(f"{self.where}: summary mean {self.summary.get('mean')} is not the mean of "
                               "the conditions")
        self.require_interval(self.summary, "mean_ci")
        for condition in self.summary.get("per_condition_ci", {}):
            self.require_interval(self.summary["per_condition_ci"], condition)
