"""A seeded, randomly weighted 1k classifier small enough for smoke tests and CI of ``eval_ood``.

``--model fan_det.zoo.tiny_random:build``: average-pool to 4 x 4, one linear layer to 1000 logits,
32 x 32 inputs. Its numbers mean nothing; it exercises the plumbing in milliseconds per image.
"""

from __future__ import annotations

import torch
from torch import nn

DATA_CONFIG = {"input_size": (3, 32, 32), "crop_pct": 1.0, "interpolation": "bilinear"}


class TinyClassifier(nn.Module):
    """Weights drawn from ``seed``, so every process builds the same model."""

    def __init__(self, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.fc = nn.Linear(48, 1000)
        with torch.no_grad():
            self.fc.weight.copy_(torch.randn(1000, 48, generator=g))
            self.fc.bias.copy_(torch.randn(1000, generator=g))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(x).flatten(1))


def build() -> tuple[nn.Module, dict]:
    return TinyClassifier(), dict(DATA_CONFIG)
