"""Helpers for the OOD tests: a plain reference evaluation and the tiny stand-in classifier.

A module of its own (not conftest) so spawned worker processes import the same thing by name.
"""

import math
from pathlib import Path

import torch
from PIL import Image
from torch import nn
from torchvision import transforms

# the tests' stand-in classifier, also as a ``package.module:callable`` target (tests/ood is on sys.path)
from fan_det.zoo.tiny_random import TinyClassifier  # noqa: F401
from fan_det.zoo.tiny_random import build as build_tiny_classifier  # noqa: F401


def plain_transform(size: int, crop_pct: float, interpolation: str, mean, std):
    """Resize the shorter side to size/crop_pct, centre crop, normalise: written here, not taken from timm."""
    modes = transforms.InterpolationMode
    mode = {"bilinear": modes.BILINEAR, "bicubic": modes.BICUBIC}
    return transforms.Compose([
        transforms.Resize(math.floor(size / crop_pct), interpolation=mode[interpolation]),
        transforms.CenterCrop(size),
        transforms.ToTensor(),
        transforms.Normalize(mean, std),
    ])


@torch.inference_mode()
def plain_logits(model: nn.Module, files: list[Path], transform) -> dict[str, torch.Tensor]:
    """File name -> 1000 logits, one image at a time."""
    model.eval()
    return {f.name: model(transform(Image.open(f).convert("RGB"))[None])[0] for f in files}
