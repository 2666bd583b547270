"""A learnable synthetic semantic-segmentation set: the shapes scenes of ``synthetic`` as class maps.

Each image is rendered by the detection set's scene generator (its own seeds, so the images differ) and
labelled per pixel: 0 background, 1-4 the shapes. A shape's fill takes its hue from its class's quarter
of the colour circle, so colour and outline both tell the class (with the detection set's class-blind
colours, FAN-T-Hybrid trained from scratch for CPU minutes finds the shapes but not their classes: mIoU
under 30 after 600 iterations). Two kinds of pixels are ignored (255), as in real label maps: a band of
``BAND`` pixels along every object's outline (ambiguous edges) and, in some images, one "unlabelled"
rectangle. Labels are single-channel PNGs named as their images, the layout detectron2's ``load_sem_seg``
reads.
"""

from __future__ import annotations

import colorsys
from pathlib import Path

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils
from scipy import ndimage

from fan_det.data import synthetic
from fan_det.data.coco_format import build_once
from fan_det.paths import datasets_dir

VERSION = "synthetic_seg/2"
NAME = "synthetic_seg"
CLASSES = ("background", *synthetic.CLASSES)
IGNORE_LABEL = 255
BAND = 1  # ignored pixels on each side of an outline
UNLABELLED_FRACTION = 0.3  # images with an ignored rectangle
SPLITS = {"train": (160, 3000), "val": (40, 4000)}  # split -> (images, seed)
HUE_BAND = (0.15, 0.85)  # where in its class's quarter of the hue circle a fill's hue falls


def class_hue_colour(rng: np.random.Generator, cls_index: int) -> np.ndarray:
    """An RGB fill whose hue lies in the class's own quarter of the colour circle (saturated, bright)."""
    hue = (cls_index + rng.uniform(*HUE_BAND)) / len(synthetic.CLASSES)
    return 255 * np.array(colorsys.hsv_to_rgb(hue, rng.uniform(0.7, 1.0), rng.uniform(0.7, 1.0)))


def _label_map(rng: np.random.Generator, height: int, width: int, annotations: list[dict]) -> np.ndarray:
    label = np.zeros((height, width), dtype=np.uint8)
    edges = np.zeros((height, width), dtype=bool)
    for ann in annotations:
        mask = mask_utils.decode(ann["segmentation"]).astype(bool)
        label[mask] = ann["category_id"]  # the shapes' ids 1..4 are their indices in CLASSES
        inner = ndimage.binary_erosion(mask, iterations=BAND)
        edges |= ndimage.binary_dilation(mask, iterations=BAND) & ~inner
    label[edges] = IGNORE_LABEL
    if rng.random() < UNLABELLED_FRACTION:
        h, w = int(rng.integers(height // 8, height // 3)), int(rng.integers(width // 8, width // 3))
        y0, x0 = int(rng.integers(0, height - h)), int(rng.integers(0, width - w))
        label[y0:y0 + h, x0:x0 + w] = IGNORE_LABEL
    return label


def _build_split(out: Path, split: str) -> None:
    count, seed = SPLITS[split]
    rng = np.random.default_rng(seed)
    (out / split / "images").mkdir(parents=True)
    (out / split / "labels").mkdir(parents=True)
    for index in range(1, count + 1):
        pixels, annotations = synthetic.render(rng, index, class_hue_colour)
        label = _label_map(rng, pixels.shape[0], pixels.shape[1], annotations)
        name = f"{split}_{index:04d}.png"
        Image.fromarray(pixels).save(out / split / "images" / name, optimize=False)
        Image.fromarray(label).save(out / split / "labels" / name, optimize=False)


def _build(out: Path) -> None:
    for split in SPLITS:
        _build_split(out, split)


def split_dirs(root: Path, split: str) -> tuple[Path, Path]:
    """``(image_dir, label_dir)`` of a split under the set's root."""
    return root / split / "images", root / split / "labels"


def build_synthetic_segmentation() -> dict[str, tuple[Path, Path]]:
    """Build (once) and return ``{split: (image_dir, label_dir)}`` for ``train`` and ``val``."""
    root = build_once(datasets_dir() / NAME, _build, VERSION)
    return {split: split_dirs(root, split) for split in SPLITS}
