"""Semantic-segmentation data: label maps checked on reading, the training augmentations, Cityscapes roots.

Augmentations (``INPUT.*``, all detectron2's): resize by a random factor in ``RESIZE_SCALE.RANGE`` of the
``RESIZE_SCALE.TARGET`` size (mmsegmentation's ``Resize(img_scale, ratio_range)``), a crop of
``CROP.SIZE`` in which no class covers more than ``CROP.SINGLE_CATEGORY_MAX_AREA`` (ignored pixels not
counted), a flip, and with ``PHOTOMETRIC`` random brightness, contrast and saturation, each applied with
probability 0.5. The model pads a batch to its largest image, labels with the ignore value.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from detectron2.config import CfgNode
from detectron2.data import DatasetMapper, MetadataCatalog
from detectron2.data import transforms as T
from detectron2.data.detection_utils import build_augmentation
from PIL import Image

CITYSCAPES_SPLITS = {"train": 2_975, "val": 500}
CITYSCAPES_LABEL_FIX = ("make them with cityscapesscripts: CITYSCAPES_DATASET=<root> "
                        "python -m cityscapesscripts.preparation.createTrainIdLabelImgs")


class LabelError(ValueError):
    """A label map or a dataset's label files that cannot be used; the message names the file and fix."""


def read_checked_label(path: str, num_classes: int, ignore_label: int) -> np.ndarray:
    """The label map at ``path`` (H, W) as int64; ``LabelError`` naming the file and the first value that
    is neither a class id (0 .. num_classes - 1) nor ``ignore_label``."""
    with Image.open(path) as image:
        label = np.asarray(image, dtype=np.int64)
    if label.ndim != 2:
        raise LabelError(f"label map {path} has shape {label.shape}; a label map is one channel of class ids")
    values = np.unique(label)
    bad = values[(values >= num_classes) & (values != ignore_label)]
    if bad.size:
        raise LabelError(f"label map {path} holds the value {int(bad[0])}, neither a class id "
                         f"(0-{num_classes - 1}) nor the ignore value {ignore_label}")
    return label


def label_spec(dataset_name: str) -> tuple[int, int]:
    """``(num_classes, ignore_label)`` of a registered semantic-segmentation set."""
    meta = MetadataCatalog.get(dataset_name)
    return len(meta.stuff_classes), meta.ignore_label


def train_augmentations(cfg: CfgNode) -> list[T.Augmentation]:
    """The training augmentations of the module docstring (``RESIZE_SCALE`` off: detectron2's default
    shortest-edge resize and flip)."""
    if not cfg.INPUT.RESIZE_SCALE.ENABLED:
        augs = build_augmentation(cfg, is_train=True)
    else:
        low, high = cfg.INPUT.RESIZE_SCALE.RANGE
        height, width = cfg.INPUT.RESIZE_SCALE.TARGET
        augs = [T.ResizeScale(low, high, height, width)]
        if cfg.INPUT.RANDOM_FLIP != "none":
            augs.append(T.RandomFlip(horizontal=cfg.INPUT.RANDOM_FLIP == "horizontal",
                                     vertical=cfg.INPUT.RANDOM_FLIP == "vertical"))
    if cfg.INPUT.CROP.ENABLED:
        augs.insert(1 if cfg.INPUT.RESIZE_SCALE.ENABLED else 0, T.RandomCrop_CategoryAreaConstraint(
            cfg.INPUT.CROP.TYPE, cfg.INPUT.CROP.SIZE, cfg.INPUT.CROP.SINGLE_CATEGORY_MAX_AREA,
            cfg.MODEL.SEM_SEG_HEAD.IGNORE_VALUE))
    if cfg.INPUT.PHOTOMETRIC:
        augs += [T.RandomApply(T.RandomBrightness(0.875, 1.125)), T.RandomApply(T.RandomContrast(0.5, 1.5)),
                 T.RandomApply(T.RandomSaturation(0.5, 1.5))]
    return augs


class SemSegTrainMapper(DatasetMapper):
    """detectron2's training ``DatasetMapper`` with :func:`train_augmentations`, refusing a label map that
    holds a value outside the classes."""

    def __init__(self, cfg: CfgNode):
        super().__init__(cfg, is_train=True, augmentations=train_augmentations(cfg))
        self.label_spec = {label_spec(n) for n in cfg.DATASETS.TRAIN}
        if len(self.label_spec) != 1:
            raise LabelError(f"the datasets {list(cfg.DATASETS.TRAIN)} disagree on classes or ignore value")

    def __call__(self, dataset_dict: dict) -> dict:
        if "sem_seg_file_name" in dataset_dict:
            read_checked_label(dataset_dict["sem_seg_file_name"], *next(iter(self.label_spec)))
        return super().__call__(dataset_dict)


def cityscapes_label_problems(
    root: str | Path, splits: dict[str, int | None] | None = None
) -> tuple[list[str], int]:
    """Problems of a Cityscapes root for semantic segmentation, and the images found.

    Per split: ``leftImg8bit/<split>/<city>/*_leftImg8bit.png`` (counted against ``splits``), and beside
    each, in ``gtFine/<split>/<city>/``, the ``*_gtFine_labelTrainIds.png`` detectron2 reads and the
    ``*_gtFine_polygons.json`` it takes the image size from.
    """
    root = Path(root)
    splits = CITYSCAPES_SPLITS if splits is None else splits
    problems, found = [], 0
    for split, expected in splits.items():
        images = sorted((root / "leftImg8bit" / split).glob("*/*_leftImg8bit.png"))
        found += len(images)
        if not images:
            problems.append(f"no images in {root / 'leftImg8bit' / split}/<city>/ (a Cityscapes root holds "
                            "leftImg8bit/ and gtFine/)")
            continue
        if expected is not None and len(images) != expected:
            problems.append(f"{len(images):,} {split} images, expected {expected:,}")
        stems = [(p.parent.name, p.name.removesuffix("leftImg8bit.png")) for p in images]
        gt = root / "gtFine" / split
        for suffix, fix in (("gtFine_labelTrainIds.png", CITYSCAPES_LABEL_FIX),
                            ("gtFine_polygons.json", "download gtFine_trainvaltest.zip")):
            missing = [f"{city}/{stem}{suffix}" for city, stem in stems
                       if not os.path.isfile(gt / city / f"{stem}{suffix}")]
            if missing:
                problems.append(f"{len(missing):,} of {len(stems):,} {split} *_{suffix} missing in {gt} "
                                f"(e.g. {missing[0]}): {fix}")
    return problems, found
