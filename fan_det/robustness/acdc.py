"""ACDC: a segmentation model on each adverse condition (natural shift), from options to ``acdc.json``.

The segmentation job of Cityscapes-C (``fan_det.robustness.city_c``) on COCO-O's plan
(``fan_det.robustness.coco_o``): each condition is a registered semantic-segmentation set evaluated like
a clean cell and cached under ``out/conditions/<condition>/<key>``, the key hashing the weights, the
config, the condition's labels and image bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from detectron2.config import CfgNode

from fan_det.data.acdc import AcdcLayoutError, build_tiny_acdc_set, register_acdc
from fan_det.metrics.segmentation import bootstrap_domains
from fan_det.protocol import ACDC_CONDITIONS
from fan_det.results import AcdcResult
from fan_det.robustness.domains import DomainsJob, domain_identities
from fan_det.robustness.job import check_out, prepare_model
from fan_det.robustness.options import EvalOptions, OptionError, parse_subset
from fan_det.robustness.sem_seg import SemSegJob, check_classes

DEFAULT_OUT = "runs/acdc"
# Cityscapes' 19 train ids, in id order: the classes of ACDC's labels
CITYSCAPES_CLASSES = ("road", "sidewalk", "building", "wall", "fence", "pole", "traffic light",
                      "traffic sign", "vegetation", "terrain", "sky", "person", "rider", "car", "truck",
                      "bus", "train", "motorcycle", "bicycle")
TINY_SOURCE = "fan_synth_seg_val"


@dataclass(frozen=True, kw_only=True)
class AcdcOptions(EvalOptions):
    """``eval_acdc``'s options: the release's root, or ``tiny`` for the restyled tiny set."""

    acdc_root: str | None = None  # rgb_anon/ and gt/ of the release; None with tiny
    tiny: bool = False  # the tiny segmentation set restyled per condition (tests, demo)
    conditions: str | Sequence[str] = "all"  # 'all' or some conditions; fewer give a partial result
    out: str = DEFAULT_OUT


def parse_conditions(conditions: str | Sequence[str]) -> tuple[str, ...]:
    """``all`` or comma-separated ACDC conditions, in their release's order."""
    return parse_subset(conditions, ACDC_CONDITIONS, "ACDC condition", "conditions")


def register(root: str, classes: Sequence[str], conditions: Sequence[str], prefix: str) -> dict[str, str]:
    """Register the conditions with detectron2 (idempotent); condition -> dataset name."""
    try:
        return register_acdc(root, classes, prefix, tuple(conditions))
    except AcdcLayoutError as error:
        raise OptionError(str(error)) from None


@dataclass(frozen=True)
class AcdcJob(DomainsJob, SemSegJob):
    """ACDC's conditions, scored by per-image confusion matrices."""

    RESULT = AcdcResult
    FOLDER = "conditions"
    MATERIALISED = False
    DESC = "ACDC conditions"

    classes: tuple[str, ...]
    prefix: str

    def register(self) -> None:
        register(self.root, self.classes, list(self.datasets), self.prefix)

    def intervals(self, payloads: Mapping[str, np.ndarray]) -> dict:
        return bootstrap_domains(payloads, self.bootstrap, seed=self.seed)

    def headline(self, result: AcdcResult) -> str:
        return f"ACDC mIoU: mean {result.summary['mean']:.2f}"


def prepare_acdc(options: AcdcOptions) -> tuple[AcdcJob, torch.nn.Module]:
    """Check and resolve everything in the launching process (see ``prepare_city_c``): the model
    (``weights``, None: random from ``seed``) on each condition's validation split of ``acdc_root`` (the
    release's layout), with Cityscapes' 19 classes; or, with ``tiny``, on the tiny segmentation set
    restyled per condition, with its classes. Fewer than the four conditions give a partial result;
    ``bootstrap`` > 0 adds per-condition and mean intervals."""
    if bool(options.tiny) == bool(options.acdc_root):
        raise OptionError("give one of {acdc_root} (the release, docs/data.md) and {tiny}", "acdc_root",
                          "tiny")
    chosen = parse_conditions(options.conditions)
    seed = options.seed or 0
    datasets: dict[str, str] = {}
    where: dict[str, object] = {}

    def register_and_check(cfg: CfgNode) -> list[str]:
        if options.tiny:
            root, classes = build_tiny_acdc_set(TINY_SOURCE)
            prefix = "tiny_acdc"
        else:
            root, classes, prefix = Path(options.acdc_root).resolve(), list(CITYSCAPES_CLASSES), "acdc"
        where.update(root=str(root), classes=tuple(classes), prefix=prefix)
        datasets.update(register(str(root), classes, chosen, prefix))
        for dataset in datasets.values():
            check_classes(cfg, dataset)
        return list(datasets.values())

    resolved = prepare_model(options, seed, register_and_check)
    identity, keys = domain_identities(resolved, datasets, options.out, what="condition",
                                       ground_truth="labels_sha256", scorer="sem_seg")
    document = {"model": resolved.model_block(options),
                "dataset": {"name": "tiny ACDC" if options.tiny else "ACDC", "root": where["root"],
                            "split": "val", "classes": list(where["classes"]), "conditions": identity},
                "provenance": resolved.provenance(options, seed=seed)}
    check_out(AcdcResult, options, document)
    job = AcdcJob(cfg=resolved.cfg, seed=seed, workers=resolved.workers, threads=resolved.threads,
                  bootstrap=options.bootstrap, out=Path(options.out), document=document,
                  skipped=resolved.skipped, root=where["root"], classes=where["classes"],
                  prefix=where["prefix"], datasets=datasets, keys=keys)
    return job, resolved.model
