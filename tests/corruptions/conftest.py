"""Shared inputs: the real-photo tiny set, downscaled so that 19 x 5 corruptions stay fast."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fan_det.corruptions import read_rgb
from fan_det.data.real_photos import build_real_photos

SMALL_SIDE = 128


def downscale(image: np.ndarray, side: int = SMALL_SIDE) -> np.ndarray:
    h, w = image.shape[:2]
    scale = side / max(h, w)
    return np.asarray(Image.fromarray(image).resize((round(w * scale), round(h * scale)), Image.BILINEAR))


@pytest.fixture(scope="session")
def small_photos() -> list[tuple[int, np.ndarray]]:
    """(COCO image id, RGB uint8 array) for each real photo, longest side 128 px."""
    json_path, image_dir = build_real_photos()
    images = json.loads(json_path.read_text())["images"]
    return [(im["id"], downscale(read_rgb(image_dir / im["file_name"]))) for im in images]


@pytest.fixture(scope="session")
def small_coco(tmp_path_factory, small_photos) -> tuple[Path, Path]:
    """A COCO json and image folder of the downscaled photos saved as JPEG (what COCO ships)."""
    json_path, _ = build_real_photos()
    source = json.loads(json_path.read_text())
    root = tmp_path_factory.mktemp("small_coco")
    (root / "images").mkdir()
    images, scales = [], {}
    for (image_id, array), info in zip(small_photos, source["images"], strict=True):
        Image.fromarray(array).save(root / "images" / info["file_name"], quality=95)
        images.append({"id": image_id, "file_name": info["file_name"], "height": array.shape[0],
                       "width": array.shape[1]})
        scales[image_id] = array.shape[1] / info["width"]
    annotations = [{"id": a["id"], "image_id": a["image_id"], "category_id": a["category_id"], "iscrowd": 0,
                    "bbox": [v * scales[a["image_id"]] for v in a["bbox"]],
                    "area": a["area"] * scales[a["image_id"]] ** 2} for a in source["annotations"]]
    coco = {"images": images, "annotations": annotations, "categories": source["categories"]}
    (root / "annotations.json").write_text(json.dumps(coco))
    return root / "annotations.json", root / "images"
