"""Register the tiny detection sets with detectron2's DatasetCatalog and MetadataCatalog.

Names: ``fan_synth_train`` and ``fan_synth_val`` (synthetic shapes), ``fan_synth_val_mini`` (the first
16 val images, for quick full-grid evaluations), ``fan_real_photos`` (real VOC photos, COCO ids). The
sets are built on the first call (seconds, cached); later calls only check the cache.
"""

from __future__ import annotations

import json
from pathlib import Path

from fan_det.data.coco_format import write_json
from fan_det.data.real_photos import build_real_photos
from fan_det.data.synthetic import build_synthetic_detection

MINI_VAL_IMAGES = 16


def _mini_subset(json_path: Path, count: int) -> Path:
    """A COCO json holding the first ``count`` images of ``json_path`` (written beside it, once)."""
    target = json_path.with_name(f"{json_path.stem}_mini{count}.json")
    if not target.exists():
        data = json.loads(json_path.read_text())
        keep = {im["id"] for im in data["images"][:count]}
        data["images"] = [im for im in data["images"] if im["id"] in keep]
        data["annotations"] = [a for a in data["annotations"] if a["image_id"] in keep]
        tmp = target.with_suffix(".tmp")
        write_json(tmp, data)
        tmp.replace(target)
    return target


def tiny_datasets() -> dict[str, tuple[Path, Path]]:
    """``{registered name: (annotation_json, image_dir)}``, building the sets if needed."""
    synthetic = build_synthetic_detection()
    val_json, val_images = synthetic["val"]
    return {
        "fan_synth_train": synthetic["train"],
        "fan_synth_val": synthetic["val"],
        "fan_synth_val_mini": (_mini_subset(val_json, MINI_VAL_IMAGES), val_images),
        "fan_real_photos": build_real_photos(),
    }


def _category_metadata(json_path: Path) -> dict:
    """Class names and id mapping up front, so they are known before the dataset is first loaded."""
    categories = sorted(json.loads(json_path.read_text())["categories"], key=lambda c: c["id"])
    return {"thing_classes": [c["name"] for c in categories],
            "thing_dataset_id_to_contiguous_id": {c["id"]: i for i, c in enumerate(categories)}}


def register_tiny_datasets() -> None:
    """Idempotent: register every tiny set that is not registered yet."""
    from detectron2.data import DatasetCatalog
    from detectron2.data.datasets import register_coco_instances

    for name, (json_path, image_dir) in tiny_datasets().items():
        if name not in DatasetCatalog.list():
            register_coco_instances(name, _category_metadata(json_path), str(json_path), str(image_dir))
