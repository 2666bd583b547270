"""Cityscapes-C (any registered semantic-segmentation set under corruption): one evaluation of a
segmentation model over the clean cell and a protocol's corruption cells, from options to
``segmentation.json``.

The same job, image sources, grid loop and cache as COCO-C (``fan_det.robustness.run``); what is its own
is the protocol the cells come from, the scorer (per-image confusion matrices, ``sem_seg``) and the
results type. ``fan_det.robustness.job.run_job`` runs the job on every process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from fan_det.data.identity import dataset_identity
from fan_det.metrics.segmentation import IncompleteProtocolError, bootstrap_grid, protocol_summary
from fan_det.protocol import PROTOCOLS, Cell, parse_severities, plan_cells, resolve_corruptions
from fan_det.results import SegmentationResult
from fan_det.robustness import source as sources
from fan_det.robustness.detector import config_sha256
from fan_det.robustness.job import check_out, prepare_model, skipped_fields
from fan_det.robustness.options import EvalOptions, OptionError
from fan_det.robustness.run import GridJob, build_skipped, register
from fan_det.robustness.sem_seg import SemSegJob, check_classes
from fan_det.runtime.grid import CellCache

DEFAULT_OUT = "runs/city_c"
DEFAULT_DATASET = "cityscapes_fine_sem_seg_val"
DEFAULT_PROTOCOL = "fan-city-c"


@dataclass(frozen=True, kw_only=True)
class CityCOptions(EvalOptions):
    """``eval_city_c``'s options. ``seed`` None: 0 on the fly, the seed that built ``city_c_root``."""

    dataset: str = DEFAULT_DATASET  # a registered detectron2 semantic-segmentation set
    protocol: str = DEFAULT_PROTOCOL  # fan_det.protocol.PROTOCOLS
    corruptions: str | Sequence[str] | None = None  # within the protocol; None: all of its corruptions
    severities: str | Sequence[int] | None = None  # within the protocol; None: all of its severities
    city_c_root: str | None = None  # a materialised copy (build_corrupted); None: corrupted on the fly
    allow_partial: bool = False  # accept a grid smaller than the protocol's (the summary says so)
    out: str = DEFAULT_OUT


def plan(options: CityCOptions) -> list[Cell]:
    """The clean cell and the protocol's cells the options ask for; cells outside the protocol and, unless
    ``allow_partial``, a smaller grid are refused before any work."""
    if options.protocol not in PROTOCOLS:
        raise OptionError(f"{{protocol}}: unknown protocol {options.protocol!r}; protocols: "
                          f"{', '.join(PROTOCOLS)}", "protocol")
    protocol = PROTOCOLS[options.protocol]
    corruptions, severities = options.corruptions, options.severities
    try:
        names = protocol.corruptions if corruptions is None else resolve_corruptions(
            corruptions if isinstance(corruptions, str) else ",".join(corruptions))
        levels = protocol.severities if severities is None else parse_severities(
            severities if isinstance(severities, str) else ",".join(map(str, severities)))
    except ValueError as error:
        raise OptionError(str(error)) from None
    outside = [c for c in names if c not in protocol.corruptions] + [
        f"severity {s}" for s in levels if s not in protocol.severities]
    if outside:
        raise OptionError(f"{', '.join(outside)} not in protocol {protocol.name} ({protocol.source}); "
                          "choose another {protocol} or leave them out", "protocol")
    cells = plan_cells(names, levels)
    try:
        protocol_summary(dict.fromkeys(cells, 1.0), protocol, allow_partial=options.allow_partial)
    except IncompleteProtocolError as error:
        raise OptionError(f"{error} (here: {{allow_partial}})", "allow_partial") from None
    return cells


@dataclass(frozen=True)
class CityCJob(GridJob, SemSegJob):
    """A segmentation grid under a protocol, scored by per-image confusion matrices."""

    RESULT = SegmentationResult
    DESC = "segmentation cells"

    protocol: str

    def intervals(self, cache: CellCache) -> dict:
        matrices = {tuple(cell): cache.load_payload(cell.name) for cell in self.cells}
        return bootstrap_grid(matrices, PROTOCOLS[self.protocol], self.bootstrap, seed=self.seed)


def prepare_city_c(options: CityCOptions) -> tuple[CityCJob, torch.nn.Module]:
    """Check and resolve everything in the launching process; the job and the model built to check the
    weights (see ``fan_det.robustness.run.prepare_coco_c``).

    The model is ``weights`` (None: randomly initialised from the seed) on the clean cell and the
    protocol's cells; the seed is refused when it contradicts ``city_c_root``'s, a dataset whose class
    count differs from the model's before any inference. Finished cells are cached under
    ``out/cells/<key>``, the key hashing the weights, the config, the dataset (labels' bytes included)
    and how the images are made. ``bootstrap`` > 0 adds percentile-bootstrap intervals of P, mPC and rPC
    from the cached per-image matrices.
    """
    cells = plan(options)
    # the image sources name the materialised folder's field coco_c_root; eval_city_c words it --city-c-root
    source = (sources.materialised(options.city_c_root, cells, options.seed, options.out)
              if options.city_c_root is not None else sources.on_the_fly(options.seed))
    classes: list[str] = []

    def register_and_check(cfg) -> list[str]:
        register(options.dataset, cells, source)
        classes.extend(check_classes(cfg, options.dataset))
        return [options.dataset]

    resolved = prepare_model(options, source.seed, register_and_check, build_skipped(source, cells))
    identity = dataset_identity(options.dataset, options.out)
    skipped_key, skipped_doc = skipped_fields(options.dataset, resolved.skipped[options.dataset])
    corrupted = [c for c in cells if not c.is_clean]
    protocol = {"name": options.protocol, **source.protocol(),
                "unreadable_images": "skip" if options.skip_bad else "refuse",
                "evaluated": {"corruptions": list(dict.fromkeys(c.corruption for c in corrupted)),
                              "severities": sorted({c.severity for c in corrupted})}}
    key = {"weights_sha256": resolved.weights_sha256, "config_sha256": config_sha256(resolved.cfg),
           "dataset": {"name": options.dataset, "sha256": identity.sha256,
                       "images_sha256": identity.images_sha256, **skipped_key}, **source.key(),
           "scorer": "sem_seg"}
    document = {"model": resolved.model_block(options),
                "dataset": {"name": options.dataset, "num_images": identity.num_images, "classes": classes,
                            "images_sha256": identity.images_sha256, **skipped_doc},
                "protocol": protocol, "provenance": resolved.provenance(options)}
    check_out(SegmentationResult, options, document)
    job = CityCJob(cfg=resolved.cfg, seed=source.seed, workers=resolved.workers, threads=resolved.threads,
                   bootstrap=options.bootstrap, out=Path(options.out), document=document,
                   skipped=resolved.skipped, dataset=options.dataset, protocol=options.protocol,
                   cells=tuple(cells), source=source, key=key, allow_partial=options.allow_partial)
    return job, resolved.model
