"""One detectron2 evaluation job, whatever it evaluates (the COCO-C grid, the COCO-O domains, and next a
segmentation grid): checked and resolved once in the launching process, then run by every process.

The command line builds the job (``prepare_*``) and hands ``run_job`` to detectron2's ``launch``, as
detectron2's own tools do; ``launch`` runs it in this process when there is one. Inputs that cannot be
evaluated are refused with ``OptionError`` before any work.
"""

from __future__ import annotations

import abc
import argparse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import torch
from detectron2.config import CfgNode
from detectron2.data import DatasetCatalog
from detectron2.utils import comm

from fan_det.cli import fail, launch_job
from fan_det.data.identity import dataset_root, image_key
from fan_det.detection.weights import WeightsError
from fan_det.models.checkpoint import CheckpointMismatchError
from fan_det.results import ResultDocument
from fan_det.results.folder import OutputConflictError, results_of_same_model
from fan_det.robustness.detector import (
    backbone_name,
    build_eval_model,
    check_num_classes,
    config_sha256,
    load_config,
    local_weights,
    model_name,
    resolve_config_path,
)
from fan_det.robustness.images import Unreadable, check_labels_readable, skip_or_refuse, unreadable_images
from fan_det.robustness.options import EvalOptions, OptionError, check_options
from fan_det.runtime.atomic import atomic_write_text
from fan_det.runtime.finite import NonFiniteOutputError
from fan_det.runtime.provenance import provenance
from fan_det.runtime.threads import ThreadBudget, apply_threads, plan_threads
from fan_det.segmentation.data import LabelError


@dataclass(frozen=True)
class EvalJob(abc.ABC):
    """Everything every process needs (picklable); a kind adds its plan and writes its document."""

    cfg: CfgNode
    seed: int
    workers: int
    threads: ThreadBudget
    bootstrap: int
    out: Path
    document: dict  # the result's blocks known before any cell: model, dataset, protocol, provenance
    skipped: Mapping[str, tuple[Unreadable, ...]]  # dataset -> its images left out (--skip-bad)

    def left_out(self) -> dict[str, frozenset[str]]:
        """Dataset -> the file names of its images left out."""
        return {dataset: frozenset(u.image for u in found) for dataset, found in self.skipped.items()}

    def task_fields(self, model: torch.nn.Module, materialised: bool) -> dict:
        """What every grid task of the job (``fan_det.robustness.task.GridTask``) is built from."""
        return {"model": model, "cfg": self.cfg, "seed": self.seed, "materialised": materialised,
                "num_workers": self.workers, "worker_threads": self.threads.per_worker or None,
                "left_out": self.left_out()}

    @abc.abstractmethod
    def register(self) -> None:
        """Register the job's datasets with detectron2 in this process (idempotent)."""

    @abc.abstractmethod
    def evaluate(self, model: torch.nn.Module) -> ResultDocument | None:
        """Every process evaluates; the main one writes the document and returns it, the others None."""


@dataclass(frozen=True)
class Resolved:
    """What ``prepare_model`` resolved in the launching process."""

    cfg: CfgNode
    model: torch.nn.Module
    weights_sha256: str
    workers: int
    threads: ThreadBudget
    skipped: dict[str, tuple[Unreadable, ...]]  # dataset -> its unreadable images (under skip_bad)

    def model_block(self, options: EvalOptions) -> dict:
        """The results' ``model`` block."""
        return {"name": options.name or model_name(self.cfg, options.config),
                "backbone": options.backbone or backbone_name(self.cfg), "config": options.config,
                "config_sha256": config_sha256(self.cfg), "weights": options.weights,
                "weights_sha256": self.weights_sha256, "random_init": options.weights is None}

    def provenance(self, options: EvalOptions, **extra: object) -> dict:
        """The results' ``provenance`` block: the run's command, workers, processes, threads and ``extra``,
        and the unreadable images' policy and paths where ``skip_bad`` left some out."""
        paths = sorted(u.path for found in self.skipped.values() for u in found)
        skipped = {"unreadable_images": "skip", "skipped": paths} if paths else {}
        return provenance(options.command, **extra, workers=self.workers, processes=options.processes,
                          threads=self.threads.as_dict(), **skipped)


def detector_config(options: EvalOptions) -> CfgNode:
    """The evaluation config of ``config`` + ``opts`` with ``weights`` fetched locally."""
    try:
        resolve_config_path(options.config)
    except FileNotFoundError as error:  # its message names the config
        raise OptionError(str(error)) from None
    try:
        local = local_weights(options.weights) if options.weights else None
    except OSError as error:
        raise OptionError(f"cannot fetch {{weights}} {options.weights} ({type(error).__name__}: {error}); "
                          "offline? download it where there is a network and pass the file",
                          "weights") from None
    try:
        return load_config(options.config, [*options.opts, "OUTPUT_DIR", str(options.out)], local)
    except (KeyError, ValueError, AssertionError) as error:
        raise OptionError(f"bad config override in {' '.join(options.opts)}: {error}") from None


def prepare_model(options: EvalOptions, seed: int, datasets: Callable[[CfgNode], Sequence[str]],
                  unbuilt: Callable[[str], Sequence[Unreadable]] = lambda dataset: ()) -> Resolved:
    """Check the shared options, then the config, the datasets (``datasets(cfg)`` registers them and
    returns their names), the model, the thread budget, and last each dataset's class count against the
    model's and its images' readability, in that order: the first input that cannot be evaluated is
    refused, before any inference. ``unbuilt(dataset)``: images of a dataset whose corrupted copies a
    build skipped, unreadable too. Under ``skip_bad`` unreadable images are left out instead
    (``skipped``)."""
    check_options(options)
    cfg = detector_config(options)
    names = datasets(cfg)
    try:
        model, weights_sha256 = build_eval_model(cfg, seed)
    except CheckpointMismatchError as error:
        raise OptionError(f"{{weights}} {options.weights} {error}", "weights") from None
    except WeightsError as error:  # its message names the file
        raise OptionError(str(error)) from None
    workers = cfg.DATALOADER.NUM_WORKERS if options.workers is None else options.workers
    try:
        budget = plan_threads(options.threads, workers)
    except ValueError as error:
        raise OptionError(f"{{threads}}: {error}", "threads") from None
    skipped = {}
    for dataset in names:
        check_num_classes(cfg, dataset)
        found = unreadable_images(dataset)
        found += [u for u in unbuilt(dataset) if u.image not in {f.image for f in found}]
        skipped[dataset] = skip_or_refuse(found, options.skip_bad)
        check_labels_readable(dataset, {u.image for u in skipped[dataset]})
    return Resolved(cfg, model, weights_sha256, workers, budget, skipped)


def skipped_fields(dataset: str, found: Sequence[Unreadable]) -> tuple[dict, dict]:
    """What images left out of ``dataset`` add to a cache key (their keys in the dataset, so a rerun
    with another set left out computes its cells again) and to a result's dataset block (their count and
    the paths that cannot be read, as ``eval_ood`` records them); nothing when none is."""
    if not found:
        return {}, {}
    images, root = {u.image for u in found}, dataset_root(dataset)
    keys = sorted(str(image_key(d, root)) for d in DatasetCatalog.get(dataset) if d["file_name"] in images)
    return {"skipped": keys}, {"num_skipped": len(found), "skipped": sorted(u.path for u in found)}


def check_out(kind: type[ResultDocument], options: EvalOptions, document: Mapping) -> None:
    """Refuse, before any inference, an ``out`` holding another model's ``kind`` results unless
    ``overwrite`` (the rule of every tool, ``fan_det.results.folder``)."""
    try:
        results_of_same_model(kind, options.out, document, options.overwrite)
    except OutputConflictError as error:
        raise OptionError(error.worded(lambda field: f"{{{field}}}"), *OutputConflictError.OPTIONS) from None


def run_job(job: EvalJob, model: torch.nn.Module | None = None) -> ResultDocument | None:
    """One process's part (what ``launch`` runs): its thread budget, in a started process the datasets and
    the model, the config beside the results, then the job's cells."""
    apply_threads(job.threads.main)
    if model is None:  # a process started by launch: register and build here
        job.register()
        model, _ = build_eval_model(job.cfg, job.seed)
    if comm.is_main_process():
        atomic_write_text(job.out / "config.yaml", job.cfg.dump())
    return job.evaluate(model)


def launch_or_refuse(args: argparse.Namespace,
                     prepare: Callable[[EvalOptions], tuple[EvalJob, torch.nn.Module]], options: EvalOptions,
                     flags: Mapping[str, str] = MappingProxyType({})) -> None:
    """A tool's run: ``prepare`` the job here, then launch it as detectron2's tools do. A refused option ends
    the tool with one ``error:`` line naming its flag (``flags``: a field's flag where it is not
    ``--<field>``); a model's non-finite output or an unusable label file, with one line naming it."""
    try:
        launch_job(args, run_job, *prepare(options))
    except OptionError as error:
        fail(error.worded(lambda field: flags.get(field, "--" + field.replace("_", "-"))))
    except (NonFiniteOutputError, LabelError) as error:
        fail(str(error))
