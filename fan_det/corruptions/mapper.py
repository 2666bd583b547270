"""On-the-fly COCO-C for detectron2 loaders: the corruption is a detectron2 ``Transform``, applied first.

detectron2's own ``DatasetMapper`` reads the image, runs the augmentations (the corruption at the
original resolution, then the test-time resize) and maps whatever ground truth the dataset has (boxes,
masks, ``sem_seg``) unchanged: the corruption moves no pixel, so labels pass through it untouched.
"""

from __future__ import annotations

import os

import numpy as np
from detectron2.config import configurable
from detectron2.data import DatasetMapper
from detectron2.data import transforms as T

from fan_det.corruptions.core import corrupt
from fan_det.data.identity import image_key
from fan_det.protocol import ALL_CORRUPTIONS, CLEAN, SEVERITIES

FORMATS = ("RGB", "BGR")  # image formats the corruption can be applied to without loss


class CorruptionTransform(T.Transform):
    """``corrupt`` of one image (RGB or BGR uint8, corrupted in RGB); coordinates and labels untouched."""

    def __init__(self, corruption: str, severity: int, seed: int, key: int | str, image_format: str):
        super().__init__()
        self._set_attributes(locals())

    def apply_image(self, img: np.ndarray) -> np.ndarray:
        bgr = self.image_format == "BGR"
        rgb = np.ascontiguousarray(img[:, :, ::-1]) if bgr else img
        out = corrupt(rgb, self.corruption, self.severity, seed=self.seed, key=self.key)
        return np.ascontiguousarray(out[:, :, ::-1]) if bgr else out

    def apply_coords(self, coords: np.ndarray) -> np.ndarray:
        return coords

    def apply_segmentation(self, segmentation: np.ndarray) -> np.ndarray:
        return segmentation  # a label map is ground truth, never corrupted

    def inverse(self) -> T.Transform:
        return T.NoOpTransform()


class CorruptImage(T.Augmentation):
    """The corruption of the image being mapped: ``key`` is set per image by ``CorruptedDatasetMapper``."""

    def __init__(self, corruption: str, severity: int, seed: int, image_format: str):
        super().__init__()
        if corruption != CLEAN and corruption not in ALL_CORRUPTIONS:
            raise ValueError(f"unknown corruption {corruption!r}")
        if severity != 0 and severity not in SEVERITIES:
            raise ValueError(f"severity must be 0..5, got {severity!r}")
        if image_format not in FORMATS:
            raise ValueError(f"on-the-fly corruption needs INPUT.FORMAT RGB or BGR, got {image_format!r}")
        self.corruption, self.severity, self.seed = corruption, severity, seed
        self.image_format = image_format
        self.key: int | str | None = None

    @property
    def is_clean(self) -> bool:
        return self.corruption == CLEAN or self.severity == 0

    def get_transform(self, image: np.ndarray) -> T.Transform:
        if self.is_clean:
            return T.NoOpTransform()
        return CorruptionTransform(self.corruption, self.severity, self.seed, self.key, self.image_format)


class CorruptedDatasetMapper(DatasetMapper):
    """detectron2's ``DatasetMapper`` with the corruption as its first augmentation.

    ``CorruptedDatasetMapper(cfg, is_train=False, corruption="fog", severity=3, seed=0, root=...)``;
    severity 0 or corruption "clean" leaves images untouched. Each image is keyed by ``image_key`` (its
    ``image_id``, else its path relative to ``root``, the dataset's image folder), so the output equals
    the materialised COCO-C file built with the same seed.
    """

    @configurable
    def __init__(self, is_train: bool, *, augmentations: list, image_format: str, corruption: str = CLEAN,
                 severity: int = 0, seed: int = 0, root: str | os.PathLike | None = None, **kwargs):
        self.corrupt = CorruptImage(corruption, severity, seed, image_format)
        super().__init__(is_train, augmentations=[self.corrupt, *augmentations], image_format=image_format,
                         **kwargs)
        self.corruption, self.severity, self.seed, self.root = corruption, severity, seed, root

    def __call__(self, dataset_dict: dict) -> dict:
        if not self.corrupt.is_clean:
            self.corrupt.key = image_key(dataset_dict, self.root)
        return super().__call__(dataset_dict)
