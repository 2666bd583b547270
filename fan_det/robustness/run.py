"""``run_coco_c``: one COCO-C evaluation, from its inputs to ``robustness.json``.

The one place that checks the inputs (refusing with ``UsageError``, a one-line message naming the fix),
plans the cells, keys the cache on everything that decides a number, and writes the document. The
command line (``python -m fan_det.eval_coco_c``) only parses options into this call.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from detectron2.config import CfgNode
from detectron2.data import DatasetCatalog
from detectron2.engine import launch
from detectron2.utils import comm
from tqdm import tqdm

from fan_det.cli import UsageError
from fan_det.data.identity import dataset_identity
from fan_det.data.register import register_tiny_datasets
from fan_det.detection.weights import WeightsError
from fan_det.metrics.corruption import IncompleteGridError
from fan_det.models.checkpoint import CheckpointMismatchError
from fan_det.protocol import Cell, parse_severities, plan_cells, resolve_corruptions
from fan_det.results import RobustnessResult
from fan_det.robustness import source as sources
from fan_det.robustness.bootstrap import (
    bootstrap_intervals,
    bootstrap_settings,
    dataset_ground_truth,
    evaluate_per_image,
)
from fan_det.robustness.cache import CellCache
from fan_det.robustness.detector import (
    backbone_name,
    build_eval_model,
    config_sha256,
    load_config,
    local_weights,
    model_name,
    resolve_config_path,
)
from fan_det.robustness.runner import check_plan, evaluate_grid
from fan_det.robustness.scoring import DEFAULT_SCORER, SCORERS, scorer_version
from fan_det.robustness.source import ImageSource
from fan_det.runtime.atomic import atomic_write_text
from fan_det.runtime.provenance import provenance
from fan_det.runtime.threads import ThreadBudget, apply_threads, plan_threads

DEFAULT_OUT = "runs/coco_c"
DEFAULT_DATASET = "coco_2017_val"


@dataclass(frozen=True)
class _Job:
    """Everything every process needs, checked and resolved once in the launching process (picklable)."""

    cfg: CfgNode
    dataset: str
    cells: tuple[Cell, ...]
    source: ImageSource
    workers: int
    threads: ThreadBudget
    scorer: str
    out: Path
    key: dict
    document: dict  # model, dataset, protocol and provenance blocks of robustness.json
    allow_partial: bool
    bootstrap: int


def _plan(corruptions: str | Sequence[str], severities: str | Sequence[int],
          allow_partial: bool) -> list[Cell]:
    if not isinstance(corruptions, str):
        corruptions = ",".join(corruptions)
    if not isinstance(severities, str):
        severities = ",".join(map(str, severities))
    try:
        names, levels = resolve_corruptions(corruptions), parse_severities(severities)
    except ValueError as error:
        raise UsageError(str(error)) from None
    cells = plan_cells(names, levels)
    try:
        check_plan(cells, allow_partial)
    except IncompleteGridError as error:
        raise UsageError(f"{error} (here: --allow-partial)") from None
    return cells


def detector_config(config: str, opts: Sequence[str], weights: str | None, out: Path) -> CfgNode:
    """The evaluation config of ``config`` + ``opts`` with ``weights`` fetched locally, or ``UsageError``."""
    if len(opts) % 2:
        raise UsageError(f"config overrides must be KEY VALUE pairs, got {' '.join(opts)}")
    try:
        resolve_config_path(config)
    except FileNotFoundError as error:
        raise UsageError(str(error)) from None
    try:
        local = local_weights(weights) if weights else None
    except FileNotFoundError as error:
        raise UsageError(str(error)) from None
    except OSError as error:
        raise UsageError(f"cannot fetch --weights {weights} ({type(error).__name__}: {error}); offline? "
                         "download it where there is a network and pass the file") from None
    try:
        return load_config(config, [*opts, "OUTPUT_DIR", str(out)], local)
    except (KeyError, ValueError, AssertionError) as error:
        raise UsageError(f"bad config override in {' '.join(opts)}: {error}") from None


def _register(dataset: str, cells: Sequence[Cell], source: ImageSource) -> None:
    """Register the tiny sets and the materialised cells with detectron2 (idempotent; once per process)."""
    register_tiny_datasets()
    if dataset not in DatasetCatalog.list():
        raise UsageError(f"--dataset {dataset} is not registered with detectron2; registered: "
                         f"{', '.join(sorted(DatasetCatalog.list()))}")
    if source.materialised:
        from fan_det.corruptions import register_coco_c

        corrupted = [c for c in cells if not c.is_clean]
        register_coco_c(dataset, Path(source.root), sorted({c.corruption for c in corrupted}),
                        sorted({c.severity for c in corrupted}))


def eval_model(cfg: CfgNode, seed: int, weights: str | None) -> tuple[torch.nn.Module, str]:
    """``build_eval_model`` with a checkpoint that does not fit refused as ``UsageError``."""
    try:
        return build_eval_model(cfg, seed)
    except CheckpointMismatchError as error:
        raise UsageError(f"--weights {weights} {error}") from None
    except WeightsError as error:  # its message names the file
        raise UsageError(str(error)) from None


def thread_budget(threads: int | None, workers: int) -> ThreadBudget:
    """``plan_threads``, refusing a bad ``--threads`` as ``UsageError``."""
    try:
        return plan_threads(threads, workers)
    except ValueError as error:
        raise UsageError(f"--threads: {error}") from None


def check_options(scorer: str, workers: int | None, bootstrap: int) -> None:
    """Refuse, before any work, options every detector evaluation shares."""
    if scorer not in SCORERS:
        raise UsageError(f"unknown --scorer {scorer}; choose one of {', '.join(SCORERS)}")
    if workers is not None and workers < 0:
        raise UsageError(f"--workers must be 0 or more, got {workers}")
    if bootstrap and bootstrap < 2:
        raise UsageError(f"--bootstrap must be 0 (no intervals) or at least 2 resamples, got {bootstrap}")


def run_coco_c(
    config: str,
    weights: str | None,
    *,
    dataset: str = DEFAULT_DATASET,
    corruptions: str | Sequence[str] = "benchmark",
    severities: str | Sequence[int] = "1-5",
    coco_c_root: str | os.PathLike | None = None,
    seed: int | None = None,
    out: str | os.PathLike = DEFAULT_OUT,
    allow_partial: bool = False,
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
) -> RobustnessResult | None:
    """Evaluate ``config`` with ``weights`` (None: randomly initialised from the seed) on the clean cell
    and every corruption x severity cell; write and return ``out/robustness.json``.

    ``seed`` defaults to 0 on the fly and to the seed that built ``coco_c_root``; a different one is
    refused. ``threads`` is the thread budget of each process and its loader workers together (None:
    the cores the process may use), split by ``fan_det.runtime.threads.plan_threads``. ``backbone`` is
recorded for the report's one-row-per-backbone table (None: ``backbone_name`` of the config).
``bootstrap`` > 0 adds percentile-bootstrap intervals of P and mPC from that many per-image resamples
of the saved detections (``fan_det.robustness.bootstrap``). Finished cells
    are cached under ``out/cells/<key>``, the key hashing the weights, the
    config, the dataset, how the images are made and the scorer. With several processes
    (``num_gpus`` x ``num_machines``, detectron2's ``launch``) the main machine returns the document,
    the others None. Raises ``UsageError`` for any input that cannot be evaluated as asked.
    """
    cells = _plan(corruptions, severities, allow_partial)
    check_options(scorer, workers, bootstrap)
    out = Path(out)
    cfg = detector_config(config, opts, weights, out)
    source = (sources.materialised(coco_c_root, cells, seed) if coco_c_root is not None
              else sources.on_the_fly(seed))
    _register(dataset, cells, source)
    model, weights_sha256 = eval_model(cfg, source.seed, weights)
    num_images, dataset_sha256 = dataset_identity(dataset)
    scoring = {"name": scorer, "version": scorer_version(scorer)}
    num_workers = cfg.DATALOADER.NUM_WORKERS if workers is None else workers
    budget = thread_budget(threads, num_workers)
    corrupted = [c for c in cells if not c.is_clean]
    protocol = {"corruptions": list(dict.fromkeys(c.corruption for c in corrupted)),
                "severities": sorted({c.severity for c in corrupted}), **source.protocol(), "scorer": scoring}
    key = {"weights_sha256": weights_sha256, "config_sha256": config_sha256(cfg),
           "dataset": {"name": dataset, "sha256": dataset_sha256}, **source.key(), "scorer": scoring}
    if bootstrap:
        protocol["bootstrap"] = bootstrap_settings(bootstrap, source.seed)
    world = num_gpus * num_machines
    document = {
        "model": {"name": name or model_name(cfg, config), "backbone": backbone or backbone_name(cfg),
                  "config": config,
                  "config_sha256": key["config_sha256"], "weights": weights,
                  "weights_sha256": weights_sha256, "random_init": weights is None},
        "dataset": {"name": dataset, "num_images": num_images},
        "protocol": protocol,
        "provenance": provenance(command, scorer=scoring, workers=num_workers, processes=world,
                                 threads=budget.as_dict()),
    }
    job = _Job(cfg=cfg, dataset=dataset, cells=tuple(cells), source=source, workers=num_workers,
               threads=budget, scorer=scorer, out=out, key=key, document=document,
               allow_partial=allow_partial, bootstrap=bootstrap)
    if world == 1:
        return _evaluate(job, model)
    del model  # each process builds its own
    launch(_evaluate, num_gpus, num_machines=num_machines, machine_rank=machine_rank, dist_url=dist_url,
           args=(job, None))
    return RobustnessResult.load(out / RobustnessResult.FILE_NAME) if machine_rank == 0 else None


def _evaluate(job: _Job, model: torch.nn.Module | None) -> RobustnessResult | None:
    """One process's part: every cell on every rank; the main rank caches cells and writes the document."""
    apply_threads(job.threads.main)
    if model is None:  # a process started by launch: register and build here
        _register(job.dataset, job.cells, job.source)
        model, _ = build_eval_model(job.cfg, job.source.seed)
    cache = None
    if comm.is_main_process():
        cache = CellCache(job.out / "cells", job.key)
        atomic_write_text(job.out / "config.yaml", job.cfg.dump())
    records = evaluate_grid(model, job.cfg, job.dataset, job.cells, seed=job.source.seed,
                            materialised=job.source.materialised, num_workers=job.workers, scorer=job.scorer,
                            worker_threads=job.threads.per_worker or None, cache=cache)
    if not comm.is_main_process():
        return None
    intervals = None
    if job.bootstrap:
        gt = dataset_ground_truth(job.dataset)
        evaluated = {tuple(cell): evaluate_per_image(gt, cache.load_detections(cell))
                     for cell in tqdm(job.cells, desc="bootstrap: per-image matching")}
        intervals = bootstrap_intervals(evaluated, job.bootstrap, seed=job.source.seed)
    result = RobustnessResult.build(**job.document, cells=records, allow_partial=job.allow_partial,
                                    intervals=intervals)
    result.dump(job.out / RobustnessResult.FILE_NAME)
    box = result.stat("AP")
    units = {"P": "", "mPC": "", "rPC": "%"}
    figures = ", ".join(f"{k} {box[k]:.2f}{unit}" for k, unit in units.items() if k in box)
    print(f"box AP: {figures}{' (partial grid)' if result.partial else ''}\nwrote {result.path}")
    return result
