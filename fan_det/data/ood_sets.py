"""Tiny OOD classification sets laid out like ImageNet-A, -R, -Sketch and ImageNet val.

The images are the 20 real, labelled ImageNet photos that ship in foolbox's wheel (file names carry
the 1k class index). Each set is an ImageFolder tree of wnid folders, as the published datasets are:
ImageNet-A and ImageNet-R keep only the photos whose class is among their 200 (timm's synset lists),
Sketch and val keep all. They test the plumbing and label mapping, not the domain shift.
"""

from __future__ import annotations

import pkgutil
import re
import shutil
from pathlib import Path

from fan_det.data.coco_format import build_once
from fan_det.data.fetch import PACKAGES, fetch, package_dir
from fan_det.paths import datasets_dir

VERSION = "ood_sets/1"
NAME = "ood"
SUBSETS = {"imagenet-a": "imagenet_a_synsets.txt", "imagenet-r": "imagenet_r_synsets.txt",
           "imagenet-sketch": None, "imagenet": None}
PHOTO = re.compile(r"imagenet_(\d+)_(\d+)\.jpg")


def timm_synsets(file_name: str = "imagenet_synsets.txt") -> list[str]:
    """A synset list shipped with timm (``timm/data/_info``), in its order."""
    return pkgutil.get_data("timm.data", f"_info/{file_name}").decode().split()


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


def _build(out: Path) -> None:
    wnids = timm_synsets()
    for subset, synset_file in SUBSETS.items():
        allowed = set(timm_synsets(synset_file)) if synset_file else set(wnids)
        for path, index in labelled_photos():
            if wnids[index] in allowed:
                target = out / subset / wnids[index] / path.name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)


def build_ood_sets() -> dict[str, Path]:
    """Build (once) and return ``{dataset name: ImageFolder root}``."""
    root = build_once(datasets_dir() / NAME, _build, VERSION)
    return {subset: root / subset for subset in SUBSETS}
