"""``ood.json``: one classifier's metrics on each OOD dataset (ImageNet-A/R/Sketch/C, ImageNet val)."""

from __future__ import annotations

from collections.abc import Mapping

from fan_det.results.document import ResultDocument, ResultsError


class OODResult(ResultDocument):
    KIND = "ood"
    MAJOR = 1
    FILE_NAME = "ood.json"
    WRITER = "python -m fan_det.eval_ood"

    @classmethod
    def build(cls, *, model: dict, preprocessing: dict, datasets: dict, provenance: dict,
              **extra: object) -> OODResult:
        return cls({"schema": cls.schema(), "scale": "0-100", "model": model, "preprocessing": preprocessing,
                    "datasets": datasets, **extra, "provenance": provenance})

    MODEL_IDENTITY = ("name", "spec", "backbone", "checkpoint_sha256", "weights_sha256")

    @classmethod
    def identity(cls, doc: Mapping) -> dict:
        """The model, its weights and settings: preprocessing and AMP change every number."""
        return {**super().identity(doc), "preprocessing": dict(doc.get("preprocessing", {})),
                "amp": doc.get("evaluation", {}).get("amp")}

    @property
    def datasets(self) -> dict[str, dict]:
        return self.doc["datasets"]

    @property
    def preprocessing(self) -> dict:
        return self.doc.get("preprocessing", {})

    def metrics(self, dataset: str) -> dict:
        """The metrics block of one dataset ({} when it was not evaluated)."""
        return self.datasets.get(dataset, {}).get("metrics", {})

    def check(self) -> None:
        self.require(self.doc, "datasets", dict)
        if not self.datasets:
            raise ResultsError(f"{self.where}: no datasets")
        for name, block in self.datasets.items():
            if not isinstance(block, dict) or not isinstance(block.get("metrics"), dict):
                raise ResultsError(f"{self.where}: dataset {name!r} has no metrics")
            self.require_finite(block["metrics"], f"{name} metric")
