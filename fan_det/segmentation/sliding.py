"""Semantic segmentation with whole-image or sliding-window inference, chosen by ``TEST.SEM_SEG``.

Sliding windows (the authors' Cityscapes test: 1024x1024 crops at stride 768) cover the image with
crop-sized windows whose origins step by ``stride``; the last window of a row or column is moved back to
end at the image's border, and an image smaller than the crop is one window of its own size. Each window
goes through backbone and head as an image of its own, and the logits of pixels covered by several
windows are averaged. A window at least as large as the image is the whole-image inference exactly.
"""

from __future__ import annotations

import torch
from detectron2.config import CfgNode, configurable
from detectron2.modeling import META_ARCH_REGISTRY, SemanticSegmentor
from detectron2.modeling.postprocessing import sem_seg_postprocess
from detectron2.structures import ImageList

MODES = ("whole", "slide")


class SlidingWindowError(ValueError):
    """A crop or stride that cannot tile an image; the message names the config key."""


def check_sliding(mode: str, crop_size: tuple[int, int], stride: tuple[int, int]) -> None:
    """Refuse a mode other than whole/slide, and (for slide) crops or strides that are not positive or a
    stride larger than the crop (it would leave pixels between windows unpredicted)."""
    if mode not in MODES:
        raise SlidingWindowError(f"TEST.SEM_SEG.MODE must be one of {MODES}, got {mode!r}")
    if mode == "whole":
        return
    if len(crop_size) != 2 or len(stride) != 2:
        raise SlidingWindowError(f"TEST.SEM_SEG.CROP_SIZE and STRIDE are (height, width) pairs, got "
                                 f"{tuple(crop_size)} and {tuple(stride)}")
    if min(crop_size) <= 0 or min(stride) <= 0:
        raise SlidingWindowError(f"TEST.SEM_SEG.CROP_SIZE {tuple(crop_size)} and STRIDE {tuple(stride)} "
                                 "must be positive")
    if stride[0] > crop_size[0] or stride[1] > crop_size[1]:
        raise SlidingWindowError(f"TEST.SEM_SEG.STRIDE {tuple(stride)} exceeds CROP_SIZE {tuple(crop_size)}: "
                                 "pixels between windows would get no prediction; use a stride <= the crop")


def window_spans(length: int, crop: int, stride: int) -> list[tuple[int, int]]:
    """``[(start, end), ...]`` of the windows along one side of ``length`` pixels."""
    count = max(length - crop + stride - 1, 0) // stride + 1
    spans = []
    for i in range(count):
        end = min(i * stride + crop, length)
        spans.append((max(end - crop, 0), end))
    return spans


def average_windows(
    image: torch.Tensor, crop_size: tuple[int, int], stride: tuple[int, int], predict
) -> torch.Tensor:
    """Logits (K, H, W) of ``image`` (C, H, W): ``predict(window)`` -> (K, h, w) per window, averaged where
    windows overlap."""
    height, width = image.shape[-2:]
    total, count = None, torch.zeros((height, width), device=image.device)
    for y0, y1 in window_spans(height, crop_size[0], stride[0]):
        for x0, x1 in window_spans(width, crop_size[1], stride[1]):
            logits = predict(image[:, y0:y1, x0:x1])
            if total is None:
                total = logits.new_zeros((logits.shape[0], height, width))
            total[:, y0:y1, x0:x1] += logits
            count[y0:y1, x0:x1] += 1
    return total / count


@META_ARCH_REGISTRY.register()
class SlidingWindowSegmentor(SemanticSegmentor):
    """detectron2's ``SemanticSegmentor`` (any backbone, any head), plus sliding-window inference."""

    @configurable
    def __init__(self, *, mode: str = "whole", crop_size: tuple[int, int] = (1024, 1024),
                 stride: tuple[int, int] = (768, 768), **kwargs):
        super().__init__(**kwargs)
        check_sliding(mode, crop_size, stride)
        self.mode, self.crop_size, self.stride = mode, tuple(crop_size), tuple(stride)

    @classmethod
    def from_config(cls, cfg: CfgNode) -> dict:
        test = cfg.TEST.SEM_SEG
        return {**super().from_config(cfg), "mode": test.MODE, "crop_size": tuple(test.CROP_SIZE),
                "stride": tuple(test.STRIDE)}

    def _window_logits(self, window: torch.Tensor) -> torch.Tensor:
        """One normalised window through backbone and head, padded as a whole image would be."""
        images = ImageList.from_tensors([window], self.backbone.size_divisibility,
                                        padding_constraints=self.backbone.padding_constraints)
        logits, _ = self.sem_seg_head(self.backbone(images.tensor))
        return logits[0, :, :window.shape[-2], :window.shape[-1]]

    def forward(self, batched_inputs: list[dict]) -> list[dict] | dict[str, torch.Tensor]:
        if self.training or self.mode == "whole":
            return super().forward(batched_inputs)
        results = []
        for item in batched_inputs:
            image = (item["image"].to(self.device) - self.pixel_mean) / self.pixel_std
            logits = average_windows(image, self.crop_size, self.stride, self._window_logits)
            size = tuple(image.shape[-2:])
            results.append({"sem_seg": sem_seg_postprocess(
                logits, size, item.get("height", size[0]), item.get("width", size[1]))})
        return results
