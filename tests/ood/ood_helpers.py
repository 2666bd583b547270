"""Helpers for the OOD tests: a plain reference evaluation and a tiny stand-in classifier.

A module of its own (not conftest) so spawned worker processes import the same thing by name.
"""

import math
from pathlib import Path

import torch
from PIL import Image
from torch import nn
from torchvision import transforms


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


class TinyClassifier(nn.Module):
    """A seeded stand-in for a real 1k classifier, fast enough for sharding and error-path tests."""

    def __init__(self, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.fc = nn.Linear(48, 1000)
        with torch.no_grad():
            self.fc.weight.copy_(torch.randn(1000, 48, generator=g))
            self.fc.bias.copy_(torch.randn(1000, generator=g))

    def forward(self, x):
        return self.fc(self.pool(x).flatten(1))


def build_tiny_classifier():
    """``package.module:callable`` target for CLI tests (tests/ood is on sys.path under pytest)."""
    return TinyClassifier(), {"input_size": (3, 32, 32), "crop_pct": 1.0, "interpolation": "bilinear"}
