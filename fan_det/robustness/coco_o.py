"""COCO-O: a detector on each COCO-O domain (natural shift), from options to ``coco_o.json``.

The same detector job, checks, cache and scoring as COCO-C (``fan_det.robustness.run``): each domain is a
registered COCO-format set evaluated like COCO-C's clean cell, cached under
``out/domains/<domain>/<key>`` where the key hashes the weights, the config, the domain's annotations
and image bytes, and the scorer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from detectron2.config import CfgNode
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.utils import comm
from tqdm import tqdm

from fan_det.data.coco_o import CocoOLayoutError, register_coco_o
from fan_det.data.identity import dataset_identity
from fan_det.protocol import CLEAN_CELL, COCO_O_DOMAINS
from fan_det.results import CocoOResult
from fan_det.robustness.bootstrap import (
    bootstrap_settings,
    dataset_ground_truth,
    domain_intervals,
    evaluate_per_image,
)
from fan_det.robustness.detector import config_sha256
from fan_det.robustness.job import prepare_model
from fan_det.robustness.options import CocoOptions, OptionError
from fan_det.robustness.task import DETECTIONS, CocoJob, DatasetCell, scoring
from fan_det.runtime.grid import CellCache, run_grid
from fan_det.runtime.hashing import sha256_file, sha256_json

DEFAULT_OUT = "runs/coco_o"
DATASET_PREFIX = "coco_o"


@dataclass(frozen=True, kw_only=True)
class CocoOOptions(CocoOptions):
    """``eval_coco_o``'s options. ``seed`` (None: 0) seeds a random init and the bootstrap."""

    coco_o_root: str  # the release's root: <domain>/val2017/, <domain>/annotations/instances_val2017.json
    domains: str | Sequence[str] = "all"  # 'all' or some domains; fewer than six give a partial result
    out: str = DEFAULT_OUT


def parse_domains(domains: str | Sequence[str]) -> tuple[str, ...]:
    """``all`` or comma-separated COCO-O domains, in COCO-O's order."""
    names = domains.split(",") if isinstance(domains, str) else list(domains)
    names = [n.strip() for n in names if n.strip()]
    if names == ["all"]:
        return COCO_O_DOMAINS
    unknown = [n for n in names if n not in COCO_O_DOMAINS]
    if unknown or not names:
        raise OptionError(f"{{domains}}: unknown COCO-O domain(s) {', '.join(unknown) or '(none given)'}; "
                          f"choose 'all' or some of {', '.join(COCO_O_DOMAINS)}", "domains")
    return tuple(d for d in COCO_O_DOMAINS if d in names)


def register(root: str, domains: Sequence[str]) -> dict[str, str]:
    """Register the domains with detectron2 (idempotent); domain -> dataset name."""
    try:
        return register_coco_o(root, DATASET_PREFIX, tuple(domains))
    except CocoOLayoutError as error:
        raise OptionError(str(error)) from None


def images_sha256(dataset: str) -> str:
    """Hash of every image file's bytes, in dataset order: a restyled or replaced image changes the key."""
    dicts = DatasetCatalog.get(dataset)
    files = tqdm([d["file_name"] for d in dicts], desc=f"hash {dataset}", leave=False)
    return sha256_json([sha256_file(f) for f in files])


def _check_classes(cfg: CfgNode, dataset: str) -> None:
    """A detector whose class count differs from the domain's would be scored on the wrong categories."""
    DatasetCatalog.get(dataset)  # loading sets the metadata's classes
    classes = len(MetadataCatalog.get(dataset).thing_classes)
    arch = cfg.MODEL.META_ARCHITECTURE
    heads = cfg.MODEL.RETINANET.NUM_CLASSES if arch == "RetinaNet" else cfg.MODEL.ROI_HEADS.NUM_CLASSES
    if heads != classes:
        raise OptionError(f"{dataset} has {classes} categories but the detector predicts {heads}; evaluate a "
                          "detector trained on COCO's categories (COCO-O keeps COCO's 80)")


@dataclass(frozen=True)
class CocoOJob(CocoJob):
    """COCO-O's domains: their datasets and a cache key each."""

    root: str
    datasets: dict[str, str]  # domain -> registered dataset name
    keys: dict[str, dict]  # domain -> cache key

    def register(self) -> None:
        register(self.root, list(self.datasets))

    def evaluate(self, model: torch.nn.Module) -> CocoOResult | None:
        """Every domain on every rank; the main rank caches and writes the document."""
        main = comm.is_main_process()
        grid = {DatasetCell(dataset, CLEAN_CELL): domain for domain, dataset in self.datasets.items()}
        caches = {cell: CellCache(self.out / "domains" / domain, self.keys[domain], DETECTIONS)
                  for cell, domain in grid.items()} if main else None
        finished = run_grid(list(grid), self.task(model, True), caches, desc="COCO-O domains")
        if not main:
            return None
        intervals = None
        if self.bootstrap:
            evaluated = {domain: evaluate_per_image(dataset_ground_truth(cell.dataset),
                                                    caches[cell].load_payload(CLEAN_CELL.name))
                         for cell, domain in grid.items()}
            intervals = domain_intervals(evaluated, self.bootstrap, seed=self.seed)
        result = CocoOResult.build(model=self.document["model"], dataset=self.document["dataset"],
                                   domains={grid[cell]: f.record for cell, f in finished.items()},
                                   provenance=self.document["provenance"], intervals=intervals)
        result.dump(self.out / CocoOResult.FILE_NAME)
        missing = result.summary["missing"]
        partial = f" (partial: {', '.join(missing)} missing)" if missing else ""
        print(f"COCO-O {result.HEADLINE_LABEL}: mean {result.stat()['mean']:.2f}{partial}\n"
              f"wrote {result.path}")
        return result


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

    def register_and_check(cfg: CfgNode) -> None:
        datasets.update(register(root, chosen))
        for dataset in datasets.values():
            _check_classes(cfg, dataset)

    resolved = prepare_model(options, seed, register_and_check)
    scorer = scoring(options.scorer)
    identity, keys = {}, {}
    for domain, dataset in datasets.items():
        num_images, annotations_sha256 = dataset_identity(dataset)
        identity[domain] = {"num_images": num_images, "annotations_sha256": annotations_sha256,
                            "images_sha256": images_sha256(dataset)}
        keys[domain] = {"weights_sha256": resolved.weights_sha256,
                        "config_sha256": config_sha256(resolved.cfg), "domain": domain, **identity[domain],
                        "scorer": scorer}
    bootstrap = {"bootstrap": bootstrap_settings(options.bootstrap, seed)} if options.bootstrap else {}
    document = {"model": resolved.model_block(options),
                "dataset": {"name": "COCO-O", "root": root, "domains": identity},
                "provenance": resolved.provenance(options, scorer=scorer, seed=seed, **bootstrap)}
    job = CocoOJob(cfg=resolved.cfg, seed=seed, workers=resolved.workers, threads=resolved.threads,
                   bootstrap=options.bootstrap, out=Path(options.out), document=document,
                   scorer=options.scorer, root=root, datasets=datasets, keys=keys)
    return job, resolved.model
