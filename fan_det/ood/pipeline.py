"""Evaluate one model over the OOD datasets, writing ``ood.json`` after each finished dataset."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from fan_det.ood.cache import cache_key, files_fingerprint, load_outcomes, save_outcomes
from fan_det.ood.image_folders import WnidImageFolder, imagenet_c_cells
from fan_det.ood.distributed import DistContext
from fan_det.ood.evaluate import Outcomes, evaluate
from fan_det.ood.classifier import LoadedModel, weights_sha256
from fan_det.ood.preprocess import build_transform
from fan_det.ood.results import (
    SCHEMA,
    classification_metrics,
    dataset_entry,
    imagenet_c_metrics,
    provenance,
    write_ood_json,
)
from fan_det.ood.synsets import SUBSETS, subset_indices, subset_wnids

# ImageNet val first: ImageNet-R's IN-200 gap and ImageNet-C's relative mCE need its outcomes.
DATASETS = ("imagenet", "imagenet-a", "imagenet-r", "imagenet-sketch", "imagenet-c")


def _subsets_for(name: str) -> dict:
    """Class subsets whose masked outcomes a dataset needs (ImageNet val: R's 200, for IN-200)."""
    if name in SUBSETS:
        return {name: subset_indices(name)}
    return {"imagenet-r": subset_indices("imagenet-r")} if name == "imagenet" else {}


def run_ood(loaded: LoadedModel, datasets: Mapping[str, str | Path], preprocessing: dict, out_dir: str | Path,
            *, batch_size: int = 64, workers: int = 4, amp: bool = False, strict: bool = False,
            ctx: DistContext | None = None, command: str | None = None) -> dict:
    """Evaluate ``loaded`` on ``datasets`` (name -> root); returns the ``ood.json`` document.

    The main rank writes ``out_dir/ood.json`` after every dataset and caches finished datasets (and
    ImageNet-C cells) under ``out_dir/cache/``, so a rerun with the same model, weights and
    preprocessing skips them.
    """
    unknown = set(datasets) - set(DATASETS)
    if unknown:
        raise ValueError(f"unknown dataset name(s) {sorted(unknown)}; known: {', '.join(DATASETS)}")
    ctx = ctx or DistContext()
    out_dir = Path(out_dir)
    transform = build_transform(preprocessing)
    base = {"model": loaded.name, "weights_sha256": weights_sha256(loaded.model),
            "checkpoint_sha256": loaded.checkpoint_sha256, "preprocessing": preprocessing, "amp": amp}

    def cached_eval(name: str, ds: WnidImageFolder, subsets: dict, desc: str) -> Outcomes:
        key = cache_key(**base, dataset=name, files=files_fingerprint(ds.samples, ds.root),
                        subsets=sorted(subsets))
        path = out_dir / "cache" / f"{desc.replace('/', '_')}-{key}.npz"
        out = load_outcomes(path)
        if out is None:
            out = evaluate(loaded.model, ds, subsets=subsets, batch_size=batch_size, workers=workers, amp=amp,
                           strict=strict, ctx=ctx, desc=desc)
            if ctx.is_main:
                save_outcomes(path, out)
        elif ctx.is_main:
            print(f"{desc}: cached ({path.name})")
        return out

    finished: dict[str, tuple[Path, list[Outcomes], int, dict]] = {}
    imagenet: Outcomes | None = None
    for name in (n for n in DATASETS if n in datasets):
        root = Path(datasets[name])
        if name == "imagenet-c":
            cells, classes = {}, set()
            for corruption, severity, folder in imagenet_c_cells(root):
                ds_name = f"imagenet-c/{corruption}/{severity}"
                ds = WnidImageFolder(folder, transform, dataset=ds_name)
                cells[(corruption, severity)] = cached_eval(name, ds, {}, ds_name)
                classes.update(ds.classes_present)
            finished[name] = (root, list(cells.values()), len(classes), cells)
        else:
            allowed = subset_wnids(name) if name in SUBSETS else None
            ds = WnidImageFolder(root, transform, allowed=allowed, dataset=name)
            out = cached_eval(name, ds, _subsets_for(name), name)
            imagenet = out if name == "imagenet" else imagenet
            finished[name] = (root, [out], len(ds.classes_present), {})
        document = _document(loaded, preprocessing, finished, imagenet, command)
        if ctx.is_main:
            write_ood_json(out_dir / "ood.json", document)
    return document


def _document(loaded: LoadedModel, preprocessing: dict, finished: dict, imagenet: Outcomes | None,
              command: str | None) -> dict:
    entries = {}
    for name, (root, outs, classes, cells) in finished.items():
        metrics = (imagenet_c_metrics(cells, imagenet) if name == "imagenet-c"
                   else classification_metrics(name, outs[0], imagenet))
        entries[name] = dataset_entry(root, outs, classes, metrics)
    return {
        "schema": SCHEMA,
        "scale": "0-100",
        "model": {"name": loaded.name, "checkpoint": loaded.checkpoint,
                  "checkpoint_sha256": loaded.checkpoint_sha256, "random_init": loaded.random_init,
                  "num_params": loaded.num_params},
        "preprocessing": preprocessing,
        "datasets": entries,
        "provenance": provenance(command),
    }
