"""Tiny OOD classification sets laid out like ImageNet-A, -R, -Sketch, -V2 and ImageNet val.

The images are the 20 real, labelled ImageNet photos that ship in foolbox's wheel (file names carry
the 1k class index). ImageNet-A, -R, -Sketch and val are class folders named by wnid, as those datasets
are published: A and R keep only the photos whose class is among their 200 (timm's class lists),
Sketch and val keep all. ImageNet-V2 is laid out as it is released: folders named by class index
(``0``..``999``). They test the plumbing and label mapping, not the domain shift.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from fan_det.data.coco_format import build_once
from fan_det.data.fetch import PACKAGES, fetch, package_dir
from fan_det.ood.synsets import imagenet_wnids, subset_wnids
from fan_det.paths import datasets_dir
from fan_det.protocol import CLASS_SUBSETS

VERSION = "ood_sets/2"
NAME = "ood"
WNID_SETS = ("imagenet-a", "imagenet-r", "imagenet-sketch", "imagenet")
INDEX_SETS = ("imagenet-v2",)
PHOTO = re.compile(r"imagenet_(\d+)_(\d+)\.jpg")


def labelled_photos() -> list[tuple[Path, int]]:
    """The foolbox ImageNet photos and their 1k class index, sorted by file name."""
    fetch(next(p for p in PACKAGES if p.name == "foolbox"))
    folder = package_dir("foolbox") / "foolbox/data"
    photos = []
    for path in sorted(folder.glob("imagenet_*.jpg")):
        match = PHOTO.fullmatch(path.name)
        if match:
            photos.append((path, int(match.group(2))))
    return photos


def write_class_folders(out: Path, photos: list[tuple[Path, int]], layout: str = "wnid",
                        allowed: set[str] | None = None) -> Path:
    """Copy ``photos`` into ``out/<wnid>/`` (``layout="wnid"``) or ``out/<class index>/`` (``"index"``)."""
    wnids = imagenet_wnids()
    for path, index in photos:
        if allowed is None or wnids[index] in allowed:
            target = out / (wnids[index] if layout == "wnid" else str(index)) / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    return out


def _build(out: Path) -> None:
    photos = labelled_photos()
    for subset in WNID_SETS:
        allowed = set(subset_wnids(subset)) if subset in CLASS_SUBSETS else None
        write_class_folders(out / subset, photos, "wnid", allowed)
    for subset in INDEX_SETS:
        write_class_folders(out / subset, photos, "index")


def build_ood_sets() -> dict[str, Path]:
    """Build (once) and return ``{dataset name: class-folder root}``."""
    root = build_once(datasets_dir() / NAME, _build, VERSION)
    return {subset: root / subset for subset in WNID_SETS + INDEX_SETS}
