"""A synthetic COCO ground truth with random detections, no images: for comparing COCO scorers.

Boxes of every COCO area range, crowd regions, non-contiguous category ids, matched detections jittered
around the ground truth and false positives; each object also has a polygon (ground truth) or RLE
(detection) mask, so box and mask AP can both be scored.
"""

from __future__ import annotations

import numpy as np
from pycocotools import mask as mask_utils

WIDTH, HEIGHT = 320, 240


def _polygon(rng: np.random.Generator, x: float, y: float, w: float, h: float) -> list[float]:
    """A random convex-ish quadrilateral inside the box (x, y, w, h)."""
    fx = rng.uniform(0, 0.3, 4)
    fy = rng.uniform(0, 0.3, 4)
    return [x + fx[0] * w, y + fy[0] * h, x + (1 - fx[1]) * w, y + fy[1] * h,
            x + (1 - fx[2]) * w, y + (1 - fy[2]) * h, x + fx[3] * w, y + (1 - fy[3]) * h]


def _box(rng: np.random.Generator) -> list[float]:
    w, h = np.exp(rng.uniform(np.log(4), np.log(200), 2))  # small, medium and large objects
    x, y = rng.uniform(0, WIDTH - w), rng.uniform(0, HEIGHT - max(h, 1))
    return [float(x), float(y), float(min(w, WIDTH - x)), float(min(h, HEIGHT - y))]


def synthetic_coco(num_images: int, seed: int = 0, num_categories: int = 6,
                   masks: bool = True) -> tuple[dict, list[dict]]:
    """``(ground truth as a COCO json dict, detections in COCO results format)``."""
    rng = np.random.default_rng(seed)
    category_ids = [int(c) for c in 1 + 3 * np.arange(num_categories)]  # 1, 4, 7, ...: not contiguous
    images = [{"id": i, "width": WIDTH, "height": HEIGHT, "file_name": f"{i:06d}.jpg"}
              for i in range(1, num_images + 1)]
    annotations, detections = [], []

    def detection(image_id: int, category: int, box: list[float], polygon: list[float]) -> None:
        entry = {"image_id": image_id, "category_id": category, "bbox": box,
                 "score": float(rng.uniform(0.01, 1))}
        if masks:
            rle = mask_utils.merge(mask_utils.frPyObjects([polygon], HEIGHT, WIDTH))
            entry["segmentation"] = {"size": rle["size"], "counts": rle["counts"].decode()}
        detections.append(entry)

    for image in images:
        for _ in range(int(rng.integers(0, 7))):
            box, category = _box(rng), int(rng.choice(category_ids))
            polygon = _polygon(rng, *box)
            annotations.append({"id": len(annotations) + 1, "image_id": image["id"], "category_id": category,
                                "bbox": box, "area": float(box[2] * box[3] * rng.uniform(0.5, 1)),
                                "iscrowd": int(rng.uniform() < 0.05), "segmentation": [polygon]})
            if rng.uniform() < 0.8:  # found, a little off
                jitter = rng.normal(0, 0.1, 4) * np.array([box[2], box[3], box[2], box[3]])
                shifted = [max(0.0, float(v)) for v in np.array(box) + jitter]
                outline = np.array(polygon) + rng.normal(0, 0.05 * np.sqrt(box[2] * box[3]), len(polygon))
                detection(image["id"], category, shifted, [float(v) for v in outline])
        for _ in range(int(rng.integers(0, 5))):  # false positives
            box = _box(rng)
            detection(image["id"], int(rng.choice(category_ids)), box, _polygon(rng, *box))
    categories = [{"id": c, "name": f"class{c}"} for c in category_ids]
    return {"images": images, "annotations": annotations, "categories": categories}, detections
