"""Materialise an ImageNet-C style tree from an ImageNet-style one (for the tiny test and demo set).

Follows the ImageNet-C recipe: shorter side resized to 256, centre crop 224, then the RGB uint8 crop is
corrupted with ``fan_det.corruptions.corrupt`` (seeded per image by its ``wnid/file`` key) and saved
as PNG (the published set used JPEG; lossless PNG keeps the corruption exact).
Layout: ``<out>/<corruption>/<severity>/<wnid>/<file stem>.png``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image
from torchvision.transforms import CenterCrop, InterpolationMode, Resize

from fan_det.ood.image_folders import load_rgb, scan_wnid_folder
from fan_det.runtime.hashing import sha256_json

VERSION = "imagenet_c_build/1"


def build_imagenet_c(src_root: str | Path, out_root: str | Path, corruptions: Sequence[str],
                     severities: Sequence[int], seed: int = 0) -> Path:
    """Build (once: an identical finished build is reused) and return ``out_root``."""
    from fan_det.corruptions import corrupt
    from fan_det.data.coco_format import build_once

    src_root = Path(src_root)
    samples, _ = scan_wnid_folder(src_root, dataset="imagenet-c source")
    crop = [Resize(256, interpolation=InterpolationMode.BILINEAR), CenterCrop(224)]

    def build(staging: Path) -> None:
        for path, _ in samples:
            img = load_rgb(path)
            for t in crop:
                img = t(img)
            rgb = np.asarray(img)
            rel = Path(path).relative_to(src_root)
            for corruption in corruptions:
                for severity in severities:
                    out = staging / corruption / str(severity) / rel.parent / (rel.stem + ".png")
                    out.parent.mkdir(parents=True, exist_ok=True)
                    key = rel.as_posix()
                    Image.fromarray(corrupt(rgb, corruption, severity, seed=seed, key=key)).save(out)

    names = [Path(p).name for p, _ in samples]
    settings = f"{VERSION}|{sorted(corruptions)}|{sorted(severities)}|{seed}|{names}"
    return build_once(Path(out_root), build, settings)


def build_tiny_imagenet_c(corruptions: Sequence[str], severities: Sequence[int], seed: int = 0) -> Path:
    """The tiny ImageNet val set (foolbox photos) corrupted, cached under the datasets folder."""
    from fan_det.data.ood_sets import build_ood_sets
    from fan_det.paths import datasets_dir

    tag = sha256_json([sorted(corruptions), sorted(severities), seed])[:10]
    return build_imagenet_c(build_ood_sets()["imagenet"], datasets_dir() / f"imagenet-c-{tag}", corruptions,
                            severities, seed)
