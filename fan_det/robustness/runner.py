"""Evaluate a COCO-C grid cell by cell, saving each finished cell at once and skipping finished ones."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from detectron2.config import CfgNode
from detectron2.utils import comm
from tqdm import tqdm

from fan_det.metrics.corruption import corruption_summary
from fan_det.protocol import Cell
from fan_det.robustness.cache import CellCache
from fan_det.robustness.inference import evaluate_cell


def check_plan(cells: Sequence[Cell], allow_partial: bool) -> None:
    """Refuse, before any work, a plan whose summary would be refused: an incomplete grid.

    Applies ``corruption_summary``'s own rule to the planned cells, so the message names the missing cells.
    """
    if not allow_partial:
        corruption_summary({(c.corruption, c.severity): {"AP": 1.0} for c in cells})


def evaluate_grid(
    model: torch.nn.Module,
    cfg: CfgNode,
    dataset: str,
    cells: Sequence[Cell],
    *,
    seed: int,
    materialised: bool,
    num_workers: int,
    scorer: str,
    worker_threads: int | None,
    cache: CellCache | None,
) -> list[dict] | None:
    """Evaluate the cells ``cache`` lacks (every rank takes part); return all records, in plan order.

    Only the main rank holds the cache (pass None elsewhere): it decides which cells are pending and
    tells the others. Returns None on the other ranks.
    """
    main = comm.is_main_process()
    records: dict[Cell, dict] = {}
    if main:
        for cell in cells:
            record = cache.load_cell(cell)
            if record is not None:
                records[cell] = record
                cache.log_cell("reused", cell)
    pending = [cell for cell in cells if cell not in records] if main else None
    pending = [Cell(*c) for c in comm.all_gather(pending)[0]]
    for cell in tqdm(pending, desc="COCO-C cells", disable=not main):
        records[cell] = evaluate_into_cache(model, cfg, dataset, cell, cache, seed=seed,
                                            materialised=materialised, num_workers=num_workers,
                                            scorer=scorer, worker_threads=worker_threads)
    return [records[cell] for cell in cells] if main else None


def evaluate_into_cache(model: torch.nn.Module, cfg: CfgNode, dataset: str, cell: Cell,
                        cache: CellCache | None, **options) -> dict | None:
    """Evaluate ``cell`` on every rank (``options``: ``evaluate_cell``'s); the main rank saves the record
    and its detections in ``cache`` at once and returns the saved record, the others None. All ranks
    wait for the save, so none starts the next cell early."""
    record = evaluate_cell(model, cfg, dataset, cell, **options)
    saved = None
    if comm.is_main_process():
        detections = record.pop("detections")
        saved = cache.save_cell(cell, record, detections)
        cache.log_cell("evaluated", cell)
    comm.synchronize()
    return saved
