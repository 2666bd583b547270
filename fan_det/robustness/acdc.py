"""ACDC: a segmentation model on each adverse condition (natural shift), from options to ``acdc.json``.

The segmentation job of Cityscapes-C (``fan_det.robustness.city_c``) on COCO-O's plan
(``fan_det.robustness.coco_o``): each condition is a registered semantic-segmentation set evaluated like
a clean cell and cached under ``out/conditions/<condition>/<key>``, the key hashing the weights, the
config, the condition's labels and image bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from detectron2.config import CfgNode

from fan_det.data.acdc import AcdcLayoutError, build_tiny_acdc_set, register_acdc
from fan_det.data.identity import dataset_identity
from fan_det.metrics.segmentation import bootstrap_domains
from fan_det.protocol import ACDC_CONDITIONS, CLEAN_CELL
from fan_det.results import AcdcResult
from fan_det.robustness.detector import config_sha256
from fan_det.robustness.job import check_out, prepare_model, skipped_fields
from fan_det.robustness.options import EvalOptions, OptionError, parse_subset
from fan_det.robustness.sem_seg import SemSegJob, check_classes
from fan_det.robustness.task import evaluate_domains

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
class AcdcJob(SemSegJob):
    """ACDC's conditions: their datasets and a cache key each."""

    root: str
    classes: tuple[str, ...]
    prefix: str
    datasets: dict[str, str]  # condition -> registered dataset name
    keys: dict[str, dict]  # condition -> cache key

    def register(self) -> None:
        register(self.root, self.classes, list(self.datasets), self.prefix)

    def evaluate(self, model: torch.nn.Module) -> AcdcResult | None:
        """Every condition on every rank; the main rank caches and writes the document."""
        done = evaluate_domains(self, model, self.datasets, self.keys, "conditions", False, "ACDC conditions")
        if done is None:
            return None
        records, caches = done
        intervals = None
        if self.bootstrap:
            matrices = {condition: cache.load_payload(CLEAN_CELL.name) for condition, cache in caches.items()}
            intervals = bootstrap_domains(matrices, self.bootstrap, seed=self.seed)
        result = AcdcResult.build(model=self.document["model"], dataset=self.document["dataset"],
                                  conditions=records,
                                  provenance=self.document["provenance"], intervals=intervals)
        result.dump(self.out / AcdcResult.FILE_NAME)
        missing = result.summary["missing"]
        partial = f" (partial: {', '.join(missing)} missing)" if missing else ""
        print(f"ACDC mIoU: mean {result.summary['mean']:.2f}{partial}\nwrote {result.path}")
        return result


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
    identity, keys = {}, {}
    for condition, dataset in datasets.items():
        found = dataset_identity(dataset, options.out)
        skipped_key, skipped_doc = skipped_fields(dataset, resolved.skipped[dataset])
        identity[condition] = {"num_images": found.num_images, "labels_sha256": found.sha256,
                               "images_sha256": found.images_sha256}
        keys[condition] = {"weights_sha256": resolved.weights_sha256,
                           "config_sha256": config_sha256(resolved.cfg), "condition": condition,
                           **identity[condition], "scorer": "sem_seg", **skipped_key}
        identity[condition].update(skipped_doc)
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
