"""``run_coco_o``: a detector on each COCO-O domain (natural shift), from its inputs to ``coco_o.json``.

The same detector, checks, cache and scoring as ``run_coco_c``: each domain is a registered COCO-format
set evaluated like COCO-C's clean cell, cached under ``out/domains/<domain>/<key>`` where the key hashes
the weights, the config, the domain's annotations and image bytes, and the scorer.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from detectron2.config import CfgNode
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.engine import launch
from detectron2.utils import comm
from tqdm import tqdm

from fan_det.cli import UsageError
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
from fan_det.robustness.cache import CellCache
from fan_det.robustness.detector import backbone_name, build_eval_model, config_sha256, model_name
from fan_det.robustness.run import (
    check_options,
    detector_config,
    eval_model,
    thread_budget,
)
from fan_det.robustness.runner import evaluate_into_cache
from fan_det.robustness.scoring import DEFAULT_SCORER, scorer_version
from fan_det.runtime.atomic import atomic_write_text
from fan_det.runtime.hashing import sha256_file, sha256_json
from fan_det.runtime.provenance import provenance
from fan_det.runtime.threads import ThreadBudget, apply_threads

DEFAULT_OUT = "runs/coco_o"
DATASET_PREFIX = "coco_o"


@dataclass(frozen=True)
class _Job:
    """Everything every process needs, resolved once in the launching process (picklable)."""

    cfg: CfgNode
    root: str
    datasets: dict[str, str]  # domain -> registered dataset name
    keys: dict[str, dict]  # domain -> cache key
    seed: int
    workers: int
    threads: ThreadBudget
    scorer: str
    bootstrap: int
    out: Path
    document: dict  # model, dataset and provenance blocks of coco_o.json


def parse_domains(domains: str | Sequence[str]) -> tuple[str, ...]:
    """``all`` or comma-separated COCO-O domains, in COCO-O's order."""
    names = domains.split(",") if isinstance(domains, str) else list(domains)
    names = [n.strip() for n in names if n.strip()]
    if names == ["all"]:
        return COCO_O_DOMAINS
    unknown = [n for n in names if n not in COCO_O_DOMAINS]
    if unknown or not names:
        raise UsageError(f"--domains: unknown COCO-O domain(s) {', '.join(unknown) or '(none given)'}; "
                         f"choose 'all' or some of {', '.join(COCO_O_DOMAINS)}")
    return tuple(d for d in COCO_O_DOMAINS if d in names)


def _register(root: str, domains: Sequence[str]) -> dict[str, str]:
    try:
        return register_coco_o(root, DATASET_PREFIX, tuple(domains))
    except CocoOLayoutError as error:
        raise UsageError(str(error)) from None


def _images_sha256(dataset: str) -> str:
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
        raise UsageError(f"{dataset} has {classes} categories but the detector predicts {heads}; evaluate a "
                         "detector trained on COCO's categories (COCO-O keeps COCO's 80)")


def run_coco_o(
    config: str,
    weights: str | None,
    coco_o_root: str | os.PathLike,
    *,
    domains: str | Sequence[str] = "all",
    seed: int = 0,
    out: str | os.PathLike = DEFAULT_OUT,
    workers: int | None = None,
    threads: int | None = None,
    name: str | None = None,
    backbone: str | None = None,
    scorer: str = DEFAULT_SCORER,
    bootstrap: int = 0,
    opts: Sequence[str] = (),
    num_gpus: int = 1,
    num_machines: int = 1,
    machine_rank: int = 0,
    dist_url: str = "auto",
    command: str | None = None,
) -> CocoOResult | None:
    """Evaluate ``config`` with ``weights`` (None: random from ``seed``) on each COCO-O domain of
    ``coco_o_root`` (the authors' layout: ``<domain>/val2017/`` and
    ``<domain>/annotations/instances_val2017.json``); write and return ``out/coco_o.json``.

    Fewer than the six domains give a result marked partial. ``bootstrap`` > 0 adds per-domain and mean
    percentile-bootstrap intervals of box AP. With several processes the main machine returns the
    document, the others None. Raises ``UsageError`` for any input that cannot be evaluated as asked.
    """
    chosen = parse_domains(domains)
    check_options(scorer, workers, bootstrap)
    out, root = Path(out), str(Path(coco_o_root).resolve())
    cfg = detector_config(config, opts, weights, out)
    datasets = _register(root, chosen)
    for dataset in datasets.values():
        _check_classes(cfg, dataset)
    model, weights_sha256 = eval_model(cfg, seed, weights)
    scoring = {"name": scorer, "version": scorer_version(scorer)}
    identity, keys = {}, {}
    for domain, dataset in datasets.items():
        num_images, annotations_sha256 = dataset_identity(dataset)
        identity[domain] = {"num_images": num_images, "annotations_sha256": annotations_sha256,
                            "images_sha256": _images_sha256(dataset)}
        keys[domain] = {"weights_sha256": weights_sha256, "config_sha256": config_sha256(cfg),
                        "domain": domain, **identity[domain], "scorer": scoring}
    num_workers = cfg.DATALOADER.NUM_WORKERS if workers is None else workers
    budget = thread_budget(threads, num_workers)
    world = num_gpus * num_machines
    document = {
        "model": {"name": name or model_name(cfg, config), "backbone": backbone or backbone_name(cfg),
                  "config": config, "config_sha256": config_sha256(cfg), "weights": weights,
                  "weights_sha256": weights_sha256, "random_init": weights is None},
        "dataset": {"name": "COCO-O", "root": root, "domains": identity},
        "provenance": provenance(command, scorer=scoring, workers=num_workers, processes=world,
                                 threads=budget.as_dict(), seed=seed,
                                 **({"bootstrap": bootstrap_settings(bootstrap, seed)} if bootstrap else {})),
    }
    job = _Job(cfg=cfg, root=root, datasets=datasets, keys=keys, seed=seed, workers=num_workers,
               threads=budget, scorer=scorer, bootstrap=bootstrap, out=out, document=document)
    if world == 1:
        return _evaluate(job, model)
    del model  # each process builds its own
    launch(_evaluate, num_gpus, num_machines=num_machines, machine_rank=machine_rank, dist_url=dist_url,
           args=(job, None))
    return CocoOResult.load(out / CocoOResult.FILE_NAME) if machine_rank == 0 else None


def _evaluate(job: _Job, model: torch.nn.Module | None) -> CocoOResult | None:
    """One process's part: every domain on every rank; the main rank caches and writes the document."""
    apply_threads(job.threads.main)
    if model is None:  # a process started by launch: register and build here
        _register(job.root, list(job.datasets))
        model, _ = build_eval_model(job.cfg, job.seed)
    main = comm.is_main_process()
    if main:
        atomic_write_text(job.out / "config.yaml", job.cfg.dump())
    caches = {d: CellCache(job.out / "domains" / d, job.keys[d]) if main else None for d in job.datasets}
    records: dict[str, dict] = {}
    for domain, dataset in tqdm(job.datasets.items(), desc="COCO-O domains", disable=not main):
        cache = caches[domain]
        record = cache.load_cell(CLEAN_CELL) if main else None
        reuse = comm.all_gather(record is not None)[0]
        if reuse:
            records[domain] = record
            cache.log_cell("reused", CLEAN_CELL)
            continue
        records[domain] = evaluate_into_cache(model, job.cfg, dataset, CLEAN_CELL, cache, seed=job.seed,
                                              materialised=True, num_workers=job.workers, scorer=job.scorer,
                                              worker_threads=job.threads.per_worker or None)
    if not main:
        return None
    intervals = None
    if job.bootstrap:
        evaluated = {d: evaluate_per_image(dataset_ground_truth(ds), caches[d].load_detections(CLEAN_CELL))
                     for d, ds in job.datasets.items()}
        intervals = domain_intervals(evaluated, job.bootstrap, seed=job.seed)
    result = CocoOResult.build(model=job.document["model"], dataset=job.document["dataset"],
                               domains=records, provenance=job.document["provenance"], intervals=intervals)
    result.dump(job.out / CocoOResult.FILE_NAME)
    ap = result.stat("AP")
    missing = result.summary["missing"]
    partial = f" (partial: {', '.join(missing)} missing)" if missing else ""
    print(f"COCO-O box AP: mean {ap['mean']:.2f}{partial}\nwrote {result.path}")
    return result

