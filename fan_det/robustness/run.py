"""COCO-C: one evaluation of a detector over the clean and corrupted cells, from options to
``robustness.json``.

``prepare_coco_c`` is the one place that checks the inputs (refusing with ``OptionError``), plans the
cells, keys the cache on everything that decides a number, and writes the document's blocks;
``fan_det.robustness.job.run_job`` then runs the job on every process. The command line
(``python -m fan_det.eval_coco_c``) parses options into ``CocoCOptions`` and launches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch
from detectron2.data import DatasetCatalog
from tqdm import tqdm

from fan_det.data.identity import dataset_identity
from fan_det.data.register import register_tiny_datasets
from fan_det.metrics.corruption import IncompleteGridError, corruption_summary
from fan_det.protocol import Cell, parse_severities, plan_cells, resolve_corruptions
from fan_det.results import CorruptionGridResult, RobustnessResult
from fan_det.robustness import source as sources
from fan_det.robustness.bootstrap import (
    bootstrap_intervals,
    bootstrap_settings,
    dataset_ground_truth,
    match_detections,
)
from fan_det.robustness.detector import config_sha256
from fan_det.robustness.images import Unreadable, unbuilt_copies
from fan_det.robustness.job import EvalJob, check_out, prepare_model, skipped_fields
from fan_det.robustness.options import CocoOptions, OptionError
from fan_det.robustness.source import ImageSource
from fan_det.robustness.task import CocoJob, evaluate_grid, grid_figures, scoring
from fan_det.runtime.grid import CellCache

DEFAULT_OUT = "runs/coco_c"
DEFAULT_DATASET = "coco_2017_val"


@dataclass(frozen=True, kw_only=True)
class CocoCOptions(CocoOptions):
    """``eval_coco_c``'s options. ``seed`` None: 0 on the fly, the seed that built ``coco_c_root``."""

    dataset: str = DEFAULT_DATASET  # a registered detectron2 test set
    corruptions: str | Sequence[str] = "benchmark"  # a set name or corruption names
    severities: str | Sequence[int] = "1-5"
    coco_c_root: str | None = None  # a materialised COCO-C; None: corrupted on the fly
    allow_partial: bool = False  # accept an incomplete grid (the summary says so)
    out: str = DEFAULT_OUT


def check_plan(cells: Sequence[Cell], allow_partial: bool) -> None:
    """Refuse, before any work, a plan whose summary would be refused: an incomplete grid.

    Applies ``corruption_summary``'s own rule to the planned cells, so the message names the missing cells.
    """
    if not allow_partial:
        try:
            corruption_summary({c: {"AP": 1.0} for c in cells})
        except IncompleteGridError as error:
            raise OptionError(f"{error} (here: {{allow_partial}})", "allow_partial") from None


def plan(options: CocoCOptions) -> list[Cell]:
    """The clean cell and the corruption x severity cells the options ask for."""
    corruptions, severities = options.corruptions, options.severities
    if not isinstance(corruptions, str):
        corruptions = ",".join(corruptions)
    if not isinstance(severities, str):
        severities = ",".join(map(str, severities))
    try:
        names, levels = resolve_corruptions(corruptions), parse_severities(severities)
    except ValueError as error:
        raise OptionError(str(error)) from None
    cells = plan_cells(names, levels)
    check_plan(cells, options.allow_partial)
    return cells


def register(dataset: str, cells: Sequence[Cell], source: ImageSource) -> list[str]:
    """Register the tiny sets and the materialised cells with detectron2 (idempotent; once per process);
    the dataset whose classes and images the model is checked against."""
    register_tiny_datasets()
    if dataset not in DatasetCatalog.list():
        raise OptionError(f"{{dataset}} {dataset} is not registered with detectron2; registered: "
                          f"{', '.join(sorted(DatasetCatalog.list()))}", "dataset")
    if source.materialised:
        from fan_det.corruptions import register_coco_c

        corrupted = [c for c in cells if not c.is_clean]
        # images a build skipped have no copies: unreadable, so refused or left out by prepare_model
        register_coco_c(dataset, Path(source.root), sorted({c.corruption for c in corrupted}),
                        sorted({c.severity for c in corrupted}), allow_missing=True)
    return [dataset]


def build_skipped(source: ImageSource, cells: Sequence[Cell]) -> Callable[[str], list[Unreadable]]:
    """``prepare_model``'s ``unbuilt``: a dataset's images whose materialised copies ``source``'s build
    skipped (none on the fly)."""
    if not source.materialised:
        return lambda dataset: []
    return lambda dataset: unbuilt_copies(dataset, source.root, cells)


@dataclass(frozen=True)
class GridJob(EvalJob):
    """A corruption grid of one dataset (COCO-C, a segmentation grid): its dataset, cells, image source
    and cache key; a kind names its result class and how it turns the cached payloads into intervals."""

    RESULT: ClassVar[type[CorruptionGridResult]]
    DESC: ClassVar[str]  # the progress bar's words

    dataset: str
    cells: tuple[Cell, ...]
    source: ImageSource
    key: dict
    allow_partial: bool

    def register(self) -> None:
        register(self.dataset, self.cells, self.source)

    def intervals(self, cache: CellCache) -> dict:
        """Bootstrap intervals from the cached payloads (``self.bootstrap`` resamples)."""
        raise NotImplementedError

    def evaluate(self, model: torch.nn.Module) -> CorruptionGridResult | None:
        """Every cell on every rank; the main rank caches cells and writes the document."""
        done = evaluate_grid(self, model, self.dataset, self.cells, self.source.materialised, self.key,
                             self.DESC)
        if done is None:
            return None
        records, cache = done
        intervals = self.intervals(cache) if self.bootstrap else None
        result = self.RESULT.build(**self.document, cells=records, allow_partial=self.allow_partial,
                                   intervals=intervals)
        result.dump(self.out / self.RESULT.FILE_NAME)
        print(f"{result.HEADLINE_LABEL}: {grid_figures(result.stat(), result.partial)}\nwrote {result.path}")
        return result


@dataclass(frozen=True)
class CocoCJob(GridJob, CocoJob):
    """A COCO-C grid, scored by COCO's protocol."""

    RESULT = RobustnessResult
    DESC = "COCO-C cells"

    def intervals(self, cache: CellCache) -> dict:
        gt = dataset_ground_truth(self.dataset, self.left_out()[self.dataset])
        evaluated = {cell: match_detections(gt, cache.load_payload(cell.name))
                     for cell in tqdm(self.cells, desc="bootstrap: per-image matching")}
        return bootstrap_intervals(evaluated, self.bootstrap, seed=self.source.seed)


def prepare_coco_c(options: CocoCOptions) -> tuple[CocoCJob, torch.nn.Module]:
    """Check and resolve everything in the launching process; the job and the model built to check the
    weights (reuse it in this process, or let each launched process build its own).

    The model is ``weights`` (None: randomly initialised from the seed) on the clean cell and every
    corruption x severity cell; the seed is refused when it contradicts ``coco_c_root``'s. Finished cells
    are cached under ``out/cells/<key>``, the key hashing the weights, the config, the dataset, how the
    images are made and the scorer. ``bootstrap`` > 0 adds percentile-bootstrap intervals of P and mPC
    (``fan_det.robustness.bootstrap``). An ``out`` holding another model's results is refused unless
    ``overwrite``; so are a model predicting another number of classes than the dataset has and an
    unreadable image, all before any inference.
    """
    cells = plan(options)
    source = (sources.materialised(options.coco_c_root, cells, options.seed, options.out)
              if options.coco_c_root is not None else sources.on_the_fly(options.seed))
    resolved = prepare_model(options, source.seed, lambda cfg: register(options.dataset, cells, source),
                             build_skipped(source, cells))
    identity = dataset_identity(options.dataset, options.out)
    skipped_key, skipped_doc = skipped_fields(options.dataset, resolved.skipped[options.dataset])
    scorer = scoring(options.scorer)
    corrupted = [c for c in cells if not c.is_clean]
    protocol = {"corruptions": list(dict.fromkeys(c.corruption for c in corrupted)),
                "severities": sorted({c.severity for c in corrupted}), **source.protocol(), "scorer": scorer}
    key = {"weights_sha256": resolved.weights_sha256, "config_sha256": config_sha256(resolved.cfg),
           "dataset": {"name": options.dataset, "sha256": identity.sha256,
                       "images_sha256": identity.images_sha256, **skipped_key},
           **source.key(), "scorer": scorer}
    if options.bootstrap:
        protocol["bootstrap"] = bootstrap_settings(options.bootstrap, source.seed)
    document = {"model": resolved.model_block(options),
                "dataset": {"name": options.dataset, "num_images": identity.num_images,
                            "images_sha256": identity.images_sha256, **skipped_doc},
                "protocol": protocol,
                "provenance": resolved.provenance(options, scorer=scorer)}
    check_out(RobustnessResult, options, document)
    job = CocoCJob(cfg=resolved.cfg, seed=source.seed, workers=resolved.workers, threads=resolved.threads,
                   bootstrap=options.bootstrap, out=Path(options.out), document=document,
                   skipped=resolved.skipped, scorer=options.scorer, dataset=options.dataset,
                   cells=tuple(cells), source=source, key=key, allow_partial=options.allow_partial)
    return job, resolved.model
