"""COCO scoring of a detectron2 detector as a grid task (``fan_det.runtime.grid``): a cell is one
dataset under one corruption cell; its record is the cell's COCO stats and its payload the detections
(gzip JSON, COCO results format with the dataset's category ids), which the bootstrap reads back."""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import torch
from detectron2.config import CfgNode

from fan_det.protocol import CLEAN_CELL, Cell
from fan_det.robustness.inference import evaluate_cell
from fan_det.robustness.job import EvalJob
from fan_det.robustness.options import OptionError
from fan_det.robustness.scoring import scorer_version
from fan_det.runtime.grid import CellCache, Codec, run_grid


def _encode(detections: list[dict]) -> bytes:
    return gzip.compress(json.dumps(detections).encode(), 6)


def _decode(data: bytes) -> list[dict]:
    return json.loads(gzip.decompress(data))


DETECTIONS = Codec("detections", ".json.gz", _encode, _decode)


class DatasetCell(NamedTuple):
    """A registered dataset under a corruption cell (COCO-C: one dataset, many cells; COCO-O: a dataset
    per domain, each clean)."""

    dataset: str
    cell: Cell


@dataclass(frozen=True, kw_only=True)
class GridTask:
    """A grid task (``fan_det.runtime.grid``) of a detectron2 job: inference over a dataset under a cell on
    every rank; a kind scores it (``score``: the record, its payload under the codec's name, on the main
    rank) and names how the payload is stored (``codec``)."""

    codec: ClassVar[Codec]
    share_payload: ClassVar[bool] = False  # the bootstrap reads the payloads back from the cache

    model: torch.nn.Module
    cfg: CfgNode
    seed: int
    materialised: bool
    num_workers: int
    worker_threads: int | None
    left_out: Mapping[str, frozenset[str]]  # dataset -> file names of its images left out (--skip-bad)

    def cell_name(self, cell: DatasetCell) -> str:
        return cell.cell.name

    def log_entry(self, cell: DatasetCell) -> list:
        return list(cell.cell)

    def score(self, cell: DatasetCell, left_out: frozenset[str]) -> dict | None:
        """The cell's record with its payload under ``codec.name`` on the main rank, else None."""
        raise NotImplementedError

    def evaluate(self, cell: DatasetCell) -> tuple[dict, Any] | None:
        record = self.score(cell, self.left_out.get(cell.dataset, frozenset()))
        if record is None:
            return None
        payload = record.pop(self.codec.name)
        return {"corruption": cell.cell.corruption, "severity": cell.cell.severity, **record}, payload


@dataclass(frozen=True, kw_only=True)
class CocoTask(GridTask):
    """COCO stats of a cell on the main rank (``evaluate_cell``); the payload is its detections."""

    codec = DETECTIONS
    scorer: str

    def score(self, cell: DatasetCell, left_out: frozenset[str]) -> dict | None:
        return evaluate_cell(self.model, self.cfg, cell.dataset, cell.cell, seed=self.seed,
                             materialised=self.materialised, num_workers=self.num_workers,
                             scorer=self.scorer, worker_threads=self.worker_threads, left_out=left_out)


def scoring(scorer: str) -> dict:
    """The scorer's name and installed version, as the cache key and the provenance record them."""
    try:
        return {"name": scorer, "version": scorer_version(scorer)}
    except (ValueError, RuntimeError) as error:
        raise OptionError(f"{{scorer}}: {error}", "scorer") from None


@dataclass(frozen=True)
class CocoJob(EvalJob):
    """An evaluation job scored by COCO's protocol."""

    scorer: str

    def task(self, model: torch.nn.Module, materialised: bool) -> CocoTask:
        return CocoTask(**self.task_fields(model, materialised), scorer=self.scorer)


def evaluate_grid(job: EvalJob, model: torch.nn.Module, dataset: str, cells: Sequence[Cell],
                  materialised: bool, key: dict, desc: str) -> tuple[list[dict], CellCache] | None:
    """A corruption grid of one dataset (COCO-C, a segmentation grid): every cell on every rank, reused
    from or saved in the cache under ``out/cells/<key>`` with the job's task's payload; on the main rank
    the finished records in plan order and the cache, elsewhere None."""
    from detectron2.utils import comm

    task = job.task(model, materialised)
    main = comm.is_main_process()
    cache = CellCache(job.out / "cells", key, task.codec) if main else None
    grid = [DatasetCell(dataset, cell) for cell in cells]
    finished = run_grid(grid, task, dict.fromkeys(grid, cache) if main else None, desc=desc)
    return ([f.record for f in finished.values()], cache) if main else None


def evaluate_domains(job: EvalJob, model: torch.nn.Module, datasets: Mapping[str, str],
                     keys: Mapping[str, dict], folder: str, materialised: bool,
                     desc: str) -> tuple[dict, dict] | None:
    """Natural-shift domains (COCO-O's, ACDC's conditions): each domain's dataset as one clean cell, on
    every rank, cached under ``out/<folder>/<domain>`` keyed by ``keys[domain]``; on the main rank
    ``({domain: record}, {domain: cache})``, elsewhere None."""
    from detectron2.utils import comm

    task = job.task(model, materialised)
    main = comm.is_main_process()
    grid = {DatasetCell(dataset, CLEAN_CELL): domain for domain, dataset in datasets.items()}
    caches = {cell: CellCache(job.out / folder / domain, keys[domain], task.codec)
              for cell, domain in grid.items()} if main else None
    finished = run_grid(list(grid), task, caches, desc=desc)
    if not main:
        return None
    return ({grid[cell]: f.record for cell, f in finished.items()},
            {grid[cell]: cache for cell, cache in caches.items()})


def grid_figures(block: dict, partial: bool) -> str:
    """``P .., mPC .., rPC ..%`` of a grid summary's headline block, as the tools print it."""
    units = {"P": "", "mPC": "", "rPC": "%"}
    figures = ", ".join(f"{k} {block[k]:.2f}{unit}" for k, unit in units.items() if k in block)
    return figures + (" (partial grid)" if partial else "")
