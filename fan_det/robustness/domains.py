"""Natural-shift domains (COCO-O's domains, ACDC's conditions) as one job kind: each domain a registered
dataset evaluated like a clean cell and cached under ``out/<folder>/<domain>/<key>``; a kind names its
result, its folder and headline, and turns the cached payloads into bootstrap intervals."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from fan_det.data.identity import dataset_identity
from fan_det.protocol import CLEAN_CELL
from fan_det.robustness.detector import config_sha256
from fan_det.robustness.job import EvalJob, Resolved, skipped_fields
from fan_det.robustness.task import evaluate_domains


@dataclass(frozen=True)
class DomainsJob(EvalJob):
    """A dataset per domain and a cache key each; ``FOLDER`` is both the cache folder and the results'
    key of the per-domain records."""

    RESULT: ClassVar[type]
    FOLDER: ClassVar[str]
    MATERIALISED: ClassVar[bool]  # images read as files (else through the on-the-fly mapper, uncorrupted)
    DESC: ClassVar[str]  # the progress bar's words

    root: str
    datasets: dict[str, str]  # domain -> registered dataset name
    keys: dict[str, dict]  # domain -> cache key

    def intervals(self, payloads: Mapping[str, Any]) -> dict:
        """Bootstrap intervals from each domain's cached payload (``self.bootstrap`` resamples)."""
        raise NotImplementedError

    def headline(self, result: Any) -> str:
        """The printed summary line, before any partial note."""
        raise NotImplementedError

    def evaluate(self, model: torch.nn.Module) -> Any:
        """Every domain on every rank; the main rank caches and writes the document."""
        done = evaluate_domains(self, model, self.datasets, self.keys, self.FOLDER, self.MATERIALISED,
                                self.DESC)
        if done is None:
            return None
        records, caches = done
        intervals = None
        if self.bootstrap:
            intervals = self.intervals({domain: cache.load_payload(CLEAN_CELL.name)
                                        for domain, cache in caches.items()})
        result = self.RESULT.build(model=self.document["model"], dataset=self.document["dataset"],
                                   provenance=self.document["provenance"], intervals=intervals,
                                   **{self.FOLDER: records})
        result.dump(self.out / self.RESULT.FILE_NAME)
        missing = result.summary["missing"]
        partial = f" (partial: {', '.join(missing)} missing)" if missing else ""
        print(f"{self.headline(result)}{partial}\nwrote {result.path}")
        return result


def domain_identities(resolved: Resolved, datasets: Mapping[str, str], memo_dir: str, *, what: str,
                      ground_truth: str, scorer: object) -> tuple[dict, dict]:
    """Per domain: the results' identity block (image count, the hash of its ground truth under the name
    ``ground_truth``, of its images, and the images left out) and the cache key (weights, config, the
    domain under the name ``what``, that identity and ``scorer``)."""
    identity, keys = {}, {}
    for domain, dataset in datasets.items():
        found = dataset_identity(dataset, memo_dir)
        skipped_key, skipped_doc = skipped_fields(dataset, resolved.skipped[dataset])
        identity[domain] = {"num_images": found.num_images, ground_truth: found.sha256,
                            "images_sha256": found.images_sha256}
        keys[domain] = {"weights_sha256": resolved.weights_sha256,
                        "config_sha256": config_sha256(resolved.cfg), what: domain, **identity[domain],
                        "scorer": scorer, **skipped_key}
        identity[domain].update(skipped_doc)
    return identity, keys
