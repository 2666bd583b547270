"""``segmentation.json`` (a corruption grid of a semantic-segmentation model: every cell's mIoU and per-class
IoU, the protocol's mean under corruption and retention) and ``acdc.json`` (mIoU per ACDC condition)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from statistics import fmean

from fan_det.metrics.segmentation import protocol_summary
from fan_det.protocol import ACDC_CONDITIONS, CLEAN_CELL, PROTOCOLS
from fan_det.results.document import ResultDocument, ResultsError
from fan_det.results.grid import CELL_KEYS, CorruptionGridResult

# summaries are written from the same cells in the same process; this only absorbs float printing
TOLERANCE = 1e-6


class SegmentationResult(CorruptionGridResult):
    """A corruption grid whose headline is mIoU, summarised under a named protocol (``fan-city-c``, ...):
    ``summary.stats.mIoU`` holds P (clean mIoU), mPC (the protocol's mean mIoU under corruption) and rPC
    (retention, %), as every grid document does."""

    KIND = "segmentation"
    MAJOR = 1
    NAME_LISTS = ("excluded",)  # classes without ground truth in a cell (left out of its mIoU)
    FILE_NAME = "segmentation.json"
    WRITER = "python -m fan_det.eval_city_c"
    HEADLINE = "mIoU"
    HEADLINE_LABEL = "mIoU"
    INTERVALS = ("P", "mPC", "rPC")

    @classmethod
    def build(cls, *, model: Mapping, dataset: Mapping, protocol: Mapping, cells: Sequence[Mapping],
              allow_partial: bool, provenance: Mapping,
              intervals: Mapping | None = None) -> SegmentationResult:
        """The document of finished cell records (``stats`` from ``metrics.segmentation.cell_stats``) and
        the summary under ``protocol["name"]``; the protocol's definition joins the other settings in
        ``protocol`` (seed, mode, corruption library...). ``intervals`` (``bootstrap_grid``) adds
        ``P_ci``, ``mPC_ci``, ``rPC_ci`` and its settings under ``protocol.bootstrap``."""
        definition = PROTOCOLS[protocol["name"]]
        kept = [{k: cell[k] for k in CELL_KEYS} for cell in cells]
        figures = protocol_summary({(c["corruption"], int(c["severity"])): c["stats"]["mIoU"] for c in kept},
                                   definition, allow_partial=allow_partial)
        head = {k: figures.pop(k) for k in ("protocol", "partial", "missing")}
        for key in cls.INTERVALS:
            if intervals and key in intervals:
                figures[f"{key}_ci"] = list(intervals[key])
        record = {**definition.record(), **protocol}
        if intervals:
            record["bootstrap"] = {k: intervals[k] for k in ("method", "resamples", "seed", "level")}
        return cls({"schema": cls.schema(), "scale": "0-100", "model": dict(model), "dataset": dict(dataset),
                    "protocol": record, "cells": kept, "summary": {**head, "stats": {cls.HEADLINE: figures}},
                    "provenance": dict(provenance)})

    def summary_of(self, grid: dict) -> dict:
        """The summary the cells give under the document's protocol (``protocol_summary``)."""
        figures = protocol_summary({tuple(cell): stats["mIoU"] for cell, stats in grid.items()},
                                   PROTOCOLS[self.protocol["name"]], allow_partial=True)
        head = {k: figures.pop(k) for k in ("protocol", "partial", "missing")}
        return {**head, "stats": {self.HEADLINE: figures}}

    @property
    def protocol(self) -> dict:
        return self.doc["protocol"]

    def check(self) -> None:
        for key, typ in (("dataset", dict), ("protocol", dict), ("cells", list), ("summary", dict)):
            self.require(self.doc, key, typ)
        self.require(self.doc["dataset"], "classes", list, where="dataset")
        self._check_protocol()
        self._check_cells()
        super().check()  # every summary figure against summary_of(cells)

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
        cells = [(c.get("corruption"), c.get("severity")) for c in self.cells]
        outside = [f"{c}/{s}" for c, s in cells
                   if (c, s) != CLEAN_CELL and (c not in known.corruptions or s not in known.severities)]
        if outside:
            raise ResultsError(f"{self.where}: cells {outside[:5]} are not in protocol {name!r}")

    def _check_cells(self) -> None:
        """Each cell's mIoU is the mean of its per-class IoU, over classes the dataset has."""
        classes = set(self.doc["dataset"]["classes"])
        for cell in self.cells:
            where = f"cell {cell.get('corruption')} severity {cell.get('severity')}"
            stats = cell.get("stats")
            if not (isinstance(stats, dict) and isinstance(stats.get("IoU"), dict)
                    and isinstance(stats.get("mIoU"), (int, float))):
                raise ResultsError(f"{self.where}: {where} has no mIoU and per-class IoU")
            self.require_finite(stats, where)  # before the mean below: a null IoU is one line
            unknown = sorted(set(stats["IoU"]) - classes)
            if unknown:
                raise ResultsError(f"{self.where}: {where} scores classes {unknown} the dataset lacks")
            if stats["IoU"] and abs(fmean(stats["IoU"].values()) - stats["mIoU"]) > TOLERANCE:
                raise ResultsError(f"{self.where}: {where}'s mIoU {stats['mIoU']} is not the mean of its "
                                   f"per-class IoU; rerun {self.WRITER}")


class AcdcResult(ResultDocument):
    """mIoU on each ACDC condition (Sakaridis et al. 2021) and their mean: natural shift."""

    KIND = "acdc"
    MAJOR = 1
    NAME_LISTS = ("excluded",)
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
        self.require_finite({k: v for k, v in self.summary.items() if k not in ("partial", "missing")},
                            "summary")
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
