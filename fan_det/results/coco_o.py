"""``coco_o.json``: a detector's COCO stats on each COCO-O domain and their mean (natural shift)."""

from __future__ import annotations

from collections.abc import Mapping

from fan_det.metrics.detection import coco_o_summary
from fan_det.results.document import ResultDocument, ResultsError
from fan_det.results.robustness import flatten_stats

TOLERANCE = 1e-6


class CocoOResult(ResultDocument):
    KIND = "coco_o"
    MAJOR = 1
    FILE_NAME = "coco_o.json"
    WRITER = "python -m fan_det.eval_coco_o"
    HEADLINE = "AP"
    HEADLINE_LABEL = "box AP"

    @classmethod
    def build(cls, *, model: Mapping, dataset: Mapping, domains: Mapping[str, Mapping],
              provenance: Mapping, intervals: Mapping | None = None) -> CocoOResult:
        """``domains`` maps a domain to its record: ``num_images``, ``seconds`` and ``stats`` per task.

        ``intervals`` (``fan_det.robustness.bootstrap.domain_intervals``) adds box ``mean_ci`` and
        ``per_domain_ci``.
        """
        kept = {d: {k: r[k] for k in ("num_images", "seconds", "stats")} for d, r in domains.items()}
        summary = coco_o_summary({d: flatten_stats(r["stats"]) for d, r in kept.items()})
        if intervals:
            ap = summary["stats"]["AP"]
            if "mean" in intervals:
                ap["mean_ci"] = list(intervals["mean"])
            ap["per_domain_ci"] = {d: list(i) for d, i in intervals.get("per_domain", {}).items()}
        return cls({"schema": cls.schema(), "scale": "0-100", "model": dict(model), "dataset": dict(dataset),
                    "domains": kept, "summary": summary, "provenance": dict(provenance)})

    @property
    def summary(self) -> dict:
        return self.doc["summary"]

    def stat(self, name: str = "AP") -> dict:
        """``{"mean": .., "per_domain": {..}}`` of one stat."""
        return self.summary["stats"].get(name, {})

    def check(self) -> None:
        for key, typ in (("dataset", dict), ("domains", dict), ("summary", dict), ("provenance", dict)):
            self.require(self.doc, key, typ)
        self.require_headline()
        self.require_finite(self.summary["stats"], "summary")
        self.require_interval(self.stat("AP"), "mean_ci")
        for domain in self.stat("AP").get("per_domain_ci", {}):
            self.require_interval(self.stat("AP")["per_domain_ci"], domain)
        for domain, record in self.doc["domains"].items():
            ap = flatten_stats(record.get("stats", {})).get("AP")
            shown = self.stat("AP").get("per_domain", {}).get(domain)
            if ap is None or shown is None or abs(ap - shown) > TOLERANCE:
                raise ResultsError(f"{self.where}: domain {domain}'s box AP {ap} disagrees with the "
                                   f"summary's {shown}; rerun {self.WRITER}")
