"""Copies of the tiny sets with an image made unreadable, for the --skip-bad promises of the detectron2
evaluations, and what their cell caches logged."""

from __future__ import annotations

import json
import shutil
from pathlib import Path


def truncate(path: Path) -> None:
    """Cut an image file in half (a truncated download): it cannot be decoded."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def coco_subset(root: Path, count: int) -> tuple[Path, Path, dict]:
    """The first ``count`` images of the tiny synthetic val set and their annotations, copied under
    ``root`` (the shared set is never written): the json's path, the image folder and its content."""
    from detectron2.data import DatasetCatalog, MetadataCatalog

    from fan_det.data.register import register_tiny_datasets

    register_tiny_datasets()
    DatasetCatalog.get("fan_synth_val_mini")  # builds the set on first use
    meta = MetadataCatalog.get("fan_synth_val_mini")
    source = json.loads(Path(meta.json_file).read_text())
    kept = source["images"][:count]
    ids = {i["id"] for i in kept}
    annotations = [a for a in source["annotations"] if a["image_id"] in ids]
    entries = {**source, "images": kept, "annotations": annotations}
    images = root / "images"
    images.mkdir(parents=True)
    for image in kept:
        shutil.copy(Path(meta.image_root) / image["file_name"], images / image["file_name"])
    json_path = root / "coco.json"
    json_path.write_text(json.dumps(entries))
    return json_path, images, entries


def register_coco(prefix: str, image_root: Path, **jsons: Path) -> dict[str, str]:
    """Register each COCO json with detectron2 as ``<prefix>_<name>``; name -> registered name."""
    from detectron2.data.datasets import register_coco_instances

    names = {}
    for name, path in jsons.items():
        names[name] = f"{prefix}_{name}"
        register_coco_instances(names[name], {}, str(path), str(image_root))
    return names


def cell_events(out: Path) -> dict[str, dict[str, set[str]]]:
    """Per cache-key folder of ``out/cells``: the cells each event names, over every run so far."""
    found = {}
    for log in out.glob("cells/*/log.jsonl"):
        events = {}
        for line in log.read_text().splitlines():
            entry = json.loads(line)
            events.setdefault(entry["event"], set()).add("{}-{}".format(*entry["entry"]))
        found[log.parent.name] = events
    return found
