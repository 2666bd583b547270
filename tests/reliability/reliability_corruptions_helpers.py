"""Tiny COCO-format sets of random images for the COCO-C builder's promises (fast: a few small images)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

CHEAP = "brightness,contrast"


def make_coco(root: Path, count: int = 4, *, seed: int = 0,
              size: tuple[int, int] = (40, 56)) -> tuple[Path, Path]:
    """``count`` random PNG images under ``root/images`` and their COCO json ``root/coco.json``."""
    rng = np.random.default_rng(seed)
    images = root / "images"
    images.mkdir(parents=True, exist_ok=True)
    entries = []
    for i in range(count):
        name = f"im{i:03d}.png"
        Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(images / name)
        entries.append({"id": i + 1, "file_name": name, "height": size[0], "width": size[1]})
    json_path = root / "coco.json"
    json_path.write_text(json.dumps({"images": entries, "annotations": [], "categories": []}))
    return json_path, images


def build_args(json_path: Path, image_root: Path, out: Path, *extra: str) -> list[str]:
    return ["--dataset", str(json_path), "--image-root", str(image_root), "--out", str(out),
            "--corruptions", CHEAP, "--severities", "1,3", "--no-progress", *extra]
