"""COCO-O: a detector on each COCO-O domain (natural shift), from options to ``coco_o.json``.

The same detector job, checks, cache and scoring as COCO-C (``fan_det.robustness.run``): each domain is a
registered COCO-format set evaluated like COCO-C's clean cell, cached under
``out/domains/<domain>/<key>`` where the key hashes the weights, the config, the domain's annotations
and image bytes, and the scorer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from detectron2.config import CfgNode

from fan_det.data.coco_o import CocoOLayoutError, register_coco_o
from fan_det.protocol import COCO_O_DOMAINS
from fan_det.results import CocoOResult
from fan_det.robustness.bootstrap import (
    bootstrap_settings,
    dataset_ground_truth,
    domain_intervals,
    match_detections,
)
from fan_det.robustness.domains import DomainsJob, domain_identities
from fan_det.robustness.job import check_out, prepare_model
from fan_det.robustness.options import CocoOptions, OptionError, parse_subset
from fan_det.robustness.task import CocoJob, scoring

DEFAULT_OUT = "runs/coco_o"
DATASET_PREFIX = "coco_o"


@dataclass(frozen=True, kw_only=True)
class CocoOOptions(CocoOptions):
    """``eval_coco_o``'s options. ``seed`` (None: 0) seeds a random init and the bootstrap."""

    coco_o_root: str  # the release's root: <domain>/val2017/, <domain>/annotations/instances_val2017.json
    domains: str | Sequence[str] = "all"  # 'all' or some domains; fewer than six give a partial result
    out: str = DEFAULT_OUT


def parse_domains(domains: str | Sequence[str]) -> tuple[str, ...]:
    """``all`` or comma-separated COCO-O domains, in their release's order."""
    return parse_subset(domains, COCO_O_DOMAINS, "COCO-O domain", "domains")


def register(root: str, domains: Sequence[str]) -> dict[str, str]:
    """Register the domains with detectron2 (idempotent); domain -> dataset name."""
    try:
        return register_coco_o(root, DATASET_PREFIX, tuple(domains))
    except CocoOLayoutError as error:
        raise OptionError(str(error)) from None


@dataclass(frozen=True)
class CocoOJob(DomainsJob, CocoJob):
    """COCO-O's domains, scored by COCO's protocol."""

    RESULT = CocoOResult
    FOLDER = "domains"
    MATERIALISED = True
    DESC = "COCO-O domains"

    def register(self) -> None:
        register(self.root, list(self.datasets))

    def intervals(self, payloads: Mapping[str, list[dict]]) -> dict:
        left_out = self.left_out()
        evaluated = {domain: match_detections(dataset_ground_truth(dataset, left_out[dataset]),
                                              payloads[domain]) for domain, dataset in self.datasets.items()}
        return domain_intervals(evaluated, self.bootstrap, seed=self.seed)

    def headline(self, result: CocoOResult) -> str:
        return f"COCO-O {result.HEADLINE_LABEL}: mean {result.stat()['mean']:.2f}"


def prepare_coco_o(options: CocoOOptions) -> tuple[CocoOJob, torch.nn.Module]:
    """Check and resolve everything in the launching process (see ``prepare_coco_c``): the model
    (``weights``, None: random from ``seed``) on each COCO-O domain of ``coco_o_root`` (the authors'
    layout: ``<domain>/val2017/`` and ``<domain>/annotations/instances_val2017.json``).

    Fewer than the six domains give a result marked partial. ``bootstrap`` > 0 adds per-domain and mean
    percentile-bootstrap intervals of box AP.
    """
    chosen = parse_domains(options.domains)
    root, seed = str(Path(options.coco_o_root).resolve()), options.seed or 0
    datasets: dict[str, str] = {}

    def register_domains(cfg: CfgNode) -> list[str]:
        datasets.update(register(root, chosen))
        return list(datasets.values())

    resolved = prepare_model(options, seed, register_domains)
    scorer = scoring(options.scorer)
    identity, keys = domain_identities(resolved, datasets, options.out, what="domain",
                                       ground_truth="annotations_sha256", scorer=scorer)
    bootstrap = {"bootstrap": bootstrap_settings(options.bootstrap, seed)} if options.bootstrap else {}
    document = {"model": resolved.model_block(options),
                "dataset": {"name": "COCO-O", "root": root, "domains": identity},
                "provenance": resolved.provenance(options, scorer=scorer, seed=seed, **bootstrap)}
    check_out(CocoOResult, options, document)
    job = CocoOJob(cfg=resolved.cfg, seed=seed, workers=resolved.workers, threads=resolved.threads,
                   bootstrap=options.bootstrap, out=Path(options.out), document=document,
                   skipped=resolved.skipped, scorer=options.scorer, root=root, datasets=datasets, keys=keys)
    return job, resolved.model
