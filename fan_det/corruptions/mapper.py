"""On-the-fly COCO-C for detectron2 evaluation loaders: corrupt each image before the test-time resize."""

from __future__ import annotations

import copy

import numpy as np
import torch
from detectron2.config import configurable
from detectron2.data import DatasetMapper
from detectron2.data import detection_utils as utils
from detectron2.data import transforms as T
from PIL import Image

from fan_det.corruptions.core import corrupt
from fan_det.corruptions.imageio import read_rgb
from fan_det.protocol import ALL_CORRUPTIONS, CLEAN, SEVERITIES


def rgb_to_format(image: np.ndarray, fmt: str) -> np.ndarray:
    """RGB uint8 to the model's ``INPUT.FORMAT`` (``BGR``, ``RGB`` or any mode detectron2 reads)."""
    if fmt == "RGB":
        return image
    if fmt == "BGR":
        return np.ascontiguousarray(image[:, :, ::-1])
    return utils.convert_PIL_to_numpy(Image.fromarray(image), fmt)


class CorruptedDatasetMapper(DatasetMapper):
    """A ``DatasetMapper`` that reads RGB, corrupts at the original resolution, then converts and resizes.

    ``CorruptedDatasetMapper(cfg, is_train=False, corruption="fog", severity=3, seed=0)``; severity 0 or
    corruption "clean" leaves images untouched. The corruption key is the dict's ``image_id``, so the
    output equals the materialised COCO-C file built with the same seed.
    """

    @configurable
    def __init__(self, is_train: bool, *, corruption: str = CLEAN, severity: int = 0, seed: int = 0,
                 **kwargs):
        super().__init__(is_train, **kwargs)
        if corruption != CLEAN and corruption not in ALL_CORRUPTIONS:
            raise ValueError(f"unknown corruption {corruption!r}")
        if severity != 0 and severity not in SEVERITIES:
            raise ValueError(f"severity must be 0..5, got {severity!r}")
        self.corruption, self.severity, self.seed = corruption, severity, seed

    def __call__(self, dataset_dict: dict) -> dict:
        dataset_dict = copy.deepcopy(dataset_dict)
        image = read_rgb(dataset_dict["file_name"])
        utils.check_image_size(dataset_dict, image)
        image = corrupt(image, self.corruption, self.severity, seed=self.seed, key=dataset_dict["image_id"])
        image = rgb_to_format(image, self.image_format)

        aug_input = T.AugInput(image)
        transforms = self.augmentations(aug_input)
        image = aug_input.image
        image_shape = image.shape[:2]
        dataset_dict["image"] = torch.as_tensor(np.ascontiguousarray(image.transpose(2, 0, 1)))
        if self.proposal_topk is not None:
            utils.transform_proposals(dataset_dict, image_shape, transforms, proposal_topk=self.proposal_topk)
        if not self.is_train:
            dataset_dict.pop("annotations", None)
            dataset_dict.pop("sem_seg_file_name", None)
            return dataset_dict
        if "annotations" in dataset_dict:
            self._transform_annotations(dataset_dict, transforms, image_shape)
        return dataset_dict
