"""Evaluate one model over the OOD datasets: owns the cache key and the ``ood.json`` document.

``ood.json`` is rewritten after each finished dataset; a rerun of the same model (same weights,
preprocessing and AMP) into the same folder reuses cached datasets and keeps the datasets it does not
rerun; another model's ``ood.json`` is refused unless ``overwrite``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import torch
from detectron2.utils import comm

from fan_det.ood.cache import OUTCOMES, entry_name, files_fingerprint, open_cache
from fan_det.ood.classifier import LoadedModel
from fan_det.ood.document import dataset_entry, identity, metrics_for, previous_datasets
from fan_det.ood.evaluate import Outcomes, evaluate, refuse_skipped_under_strict
from fan_det.ood.image_folders import (
    INDEX_LAYOUT,
    WNID_LAYOUT,
    ClassImageFolder,
    DatasetLayoutError,
    imagenet_c_cells,
)
from fan_det.ood.preprocess import build_transform
from fan_det.ood.synsets import subset_indices, subset_wnids
from fan_det.protocol import CLASS_SUBSETS, IMAGENET, IMAGENET_V2_VARIANTS, OOD_DATASETS
from fan_det.results import OODResult
from fan_det.runtime.grid import Codec, finish_cell
from fan_det.runtime.provenance import provenance

# ImageNet val comes first in OOD_DATASETS: the IN-200 accuracies and ImageNet-C's relative mCE need it.
DATASETS = OOD_DATASETS
# the metrics computed from ImageNet val's outcomes, by dataset
VAL_DERIVED = {"imagenet-a": ("in200_top1", "in200_top1_ci", "gap"),
               "imagenet-r": ("in200_top1", "in200_top1_ci", "gap"),
               "imagenet-c": ("relative_mce", "retention")}
RESULT_FILE = "ood.json"


@dataclass(frozen=True)
class EvalSettings:
    """How the images are run (``strict`` and ``v2_variant`` do not change any per-image outcome)."""

    batch_size: int = 64
    workers: int = 4
    amp: bool = False
    strict: bool = False
    device: str = "cpu"
    v2_variant: str = IMAGENET_V2_VARIANTS[0]
    overwrite: bool = False


class Folder(NamedTuple):
    """One folder to evaluate: its progress label, images, class subsets and cache entry (main rank)."""

    label: str
    dataset: ClassImageFolder
    subsets: dict
    entry: str


@dataclass(frozen=True)
class FolderTask:
    """A classifier over one folder (a ``runtime.grid`` task): per-image outcomes, on every rank."""

    model: torch.nn.Module
    settings: EvalSettings
    device: torch.device
    codec: Codec = OUTCOMES
    share_payload: bool = True  # every rank computes the metrics from the outcomes

    def cell_name(self, folder: Folder) -> str:
        return folder.entry

    def log_entry(self, folder: Folder) -> str:
        return folder.entry

    def evaluate(self, folder: Folder) -> tuple[dict, Outcomes]:
        s = self.settings
        out = evaluate(self.model, folder.dataset, subsets=folder.subsets, batch_size=s.batch_size,
                       workers=s.workers, amp=s.amp, strict=s.strict, device=self.device, desc=folder.label)
        return {"num_images": out.num_images, "num_skipped": len(out.skipped)}, out


def _subsets_for(name: str) -> dict:
    """Class subsets whose masked outcomes a dataset needs (ImageNet val: A's and R's, for IN-200)."""
    if name in CLASS_SUBSETS:
        return {name: subset_indices(name)}
    return {s: subset_indices(s) for s in CLASS_SUBSETS} if name == IMAGENET else {}


def _folders(name: str, root: Path, transform) -> list[tuple[str, ClassImageFolder]]:
    """``(progress label, dataset)`` per folder to evaluate: one, or one per ImageNet-C cell."""
    if name == "imagenet-c":
        return [(f"imagenet-c/{c}/{s}", ClassImageFolder(folder, transform, dataset=f"imagenet-c/{c}/{s}"))
                for c, s, folder in imagenet_c_cells(root)]
    allowed = subset_wnids(name) if name in CLASS_SUBSETS else None
    layouts = (WNID_LAYOUT, INDEX_LAYOUT) if name == "imagenet-v2" else (WNID_LAYOUT,)
    return [(name, ClassImageFolder(root, transform, allowed=allowed, dataset=name, layouts=layouts))]


def run_ood(loaded: LoadedModel, datasets: Mapping[str, str | Path], preprocessing: dict, out_dir: str | Path,
            settings: EvalSettings = EvalSettings(), command: str | None = None) -> OODResult:
    """Evaluate ``loaded`` on ``datasets`` (name -> root); returns the ``ood.json`` document.

    Every folder is scanned (and refused if its layout is wrong) and ``out_dir`` checked before any
    image is evaluated.
    """
    unknown = set(datasets) - set(DATASETS)
    if unknown:
        raise ValueError(f"unknown dataset name(s) {sorted(unknown)}; known: {', '.join(DATASETS)}")
    if settings.v2_variant not in IMAGENET_V2_VARIANTS:
        raise ValueError(f"unknown ImageNet-V2 variant {settings.v2_variant!r}; "
                         f"known: {', '.join(IMAGENET_V2_VARIANTS)}")
    out_path = Path(out_dir) / RESULT_FILE
    model, evaluation = loaded.block(), {"amp": settings.amp}  # --strict: see each num_skipped
    entries = previous_datasets(out_path, identity(model, preprocessing, evaluation), settings.overwrite)
    transform = build_transform(preprocessing)
    plan = {name: _folders(name, Path(datasets[name]), transform) for name in DATASETS if name in datasets}
    device = torch.device(settings.device)
    main = comm.is_main_process()
    key = {"model": loaded.spec, "weights_sha256": loaded.weights_sha256, "preprocessing": preprocessing,
           "checkpoint_sha256": loaded.checkpoint_sha256, "amp": settings.amp, "device": device.type}
    cache = open_cache(out_dir, key) if main else None

    task = FolderTask(loaded.model, settings, device)

    def outcomes_of(label: str, ds: ClassImageFolder, subsets: dict,
                    cached_only: bool = False) -> Outcomes | None:
        entry = entry_name(label, files_fingerprint(ds.samples, ds.root), subsets) if main else ""
        finished = finish_cell(Folder(label, ds, subsets, entry), task, cache, compute=not cached_only)
        if finished is None:
            return None
        if finished.reused:
            if settings.strict:
                refuse_skipped_under_strict(finished.payload)
            if main:
                print(f"{label}: cached ({cache.dir.name}/{entry})")
        return finished.payload

    def entry_for(name: str, root: str | Path, folders: list, outs: list[Outcomes]) -> dict:
        labelled = {label: o for (label, _), o in zip(folders, outs, strict=True)}
        v2 = name == "imagenet-v2"
        extra = {"layout": folders[0][1].layout, "variant": settings.v2_variant} if v2 else {}
        classes = len({w for _, ds in folders for w in ds.classes_present})
        return dataset_entry(root, outs, classes, metrics_for(name, labelled, imagenet), **extra)

    def cached_folders(name: str) -> tuple[list, list[Outcomes | None]]:
        """An earlier run's dataset, from the cache only (never evaluated here)."""
        try:
            folders = _folders(name, Path(entries[name]["path"]), transform)
        except DatasetLayoutError:
            return [], [None]
        subsets = _subsets_for(name)
        return folders, [outcomes_of(label, ds, subsets, cached_only=True) for label, ds in folders]

    imagenet = None
    if IMAGENET not in plan and IMAGENET in entries:  # an earlier run's ImageNet val, for IN-200 and mCE
        imagenet = cached_folders(IMAGENET)[1][0]
    document = None
    earlier_val = entries.get(IMAGENET)
    for name in DATASETS:  # ImageNet val first
        # an earlier run's dataset whose numbers depend on ImageNet val, which this run changed, is redone
        stale = name in VAL_DERIVED and name in entries and entries.get(IMAGENET) != earlier_val
        if name not in plan and not stale:
            continue
        if name in plan:
            root, folders = datasets[name], plan[name]
            outs = [outcomes_of(label, ds, _subsets_for(name)) for label, ds in folders]
        else:
            root, (folders, outs) = entries[name]["path"], cached_folders(name)
        if any(o is None for o in outs):
            derived = VAL_DERIVED[name]
            print(f"warning: {name} of the earlier run is not in the cache: its {', '.join(derived)} are "
                  f"left out (rerun with --dataset {name}=... to compute them)", file=sys.stderr)
            entries[name]["metrics"] = {k: v for k, v in entries[name]["metrics"].items() if k not in derived}
        else:
            entries[name] = entry_for(name, root, folders, outs)
        imagenet = outs[0] if name == IMAGENET else imagenet
        ordered = {n: entries[n] for n in DATASETS if n in entries}
        document = OODResult.build(model=model, preprocessing=preprocessing, datasets=ordered,
                                   evaluation=evaluation, provenance=provenance(command))
        if main:
            document.dump(out_path)
    if document is None:
        raise ValueError("no dataset given")
    return document
