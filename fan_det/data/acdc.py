"""ACDC folders (Sakaridis et al. 2021): the release's layout, its registration with detectron2 as one
semantic-segmentation set per condition, and a tiny ACDC-shaped set made by restyling any semantic-
segmentation set once per condition.

The release keeps images and labels in parallel trees, ``rgb_anon/<condition>/<split>/<sequence>/
<frame>_rgb_anon.png`` and ``gt/<condition>/<split>/<sequence>/<frame>_gt_labelTrainIds.png`` (Cityscapes'
19 train ids, 255 not scored). The tiny set only exercises that path (a style change per condition, the
same labels); it is not a natural shift.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from fan_det.data.coco_format import build_once
from fan_det.protocol import ACDC_CONDITIONS, IGNORE_LABEL
from fan_det.runtime.hashing import sha256_file, sha256_json

IMAGE_SUFFIX, LABEL_SUFFIX = "_rgb_anon.png", "_gt_labelTrainIds.png"
SPLIT = "val"  # the test split's labels are not public
VERSION = "tiny_acdc/1"


class AcdcLayoutError(ValueError):
    """An ACDC folder does not have the release's layout (the message names what is missing)."""


def _keyed(folder: Path, suffix: str) -> dict[str, Path]:
    return {f.relative_to(folder).as_posix()[: -len(suffix)]: f for f in sorted(folder.rglob(f"*{suffix}"))}


def acdc_pairs(root: str | Path, condition: str,
               split: str = SPLIT) -> tuple[dict[str, Path], dict[str, Path]]:
    """``<sequence>/<frame>`` -> image file and -> label file of one condition's split."""
    root = Path(root)
    return (_keyed(root / "rgb_anon" / condition / split, IMAGE_SUFFIX),
            _keyed(root / "gt" / condition / split, LABEL_SUFFIX))


def acdc_layout(root: str | Path,
                conditions: Sequence[str] = ACDC_CONDITIONS) -> dict[str, tuple[Path, Path]]:
    """``{condition: (image folder, label folder)}`` of the validation split, refusing a foreign layout or
    an image without its label file."""
    root = Path(root)
    layout = {}
    for condition in conditions:
        images, labels = acdc_pairs(root, condition)
        if not images:
            raise AcdcLayoutError(f"{root}: no *{IMAGE_SUFFIX} under rgb_anon/{condition}/{SPLIT} (ACDC's "
                                  "release layout: extract rgb_anon and gt into one folder)")
        unlabelled = sorted(set(images) - set(labels))
        if unlabelled:
            raise AcdcLayoutError(f"{root}: {len(unlabelled)} {condition} image(s) without a "
                                  f"*{LABEL_SUFFIX} file, e.g. {unlabelled[0]}")
        layout[condition] = (root / "rgb_anon" / condition / SPLIT, root / "gt" / condition / SPLIT)
    return layout


def acdc_dicts(root: str | Path, condition: str) -> list[dict]:
    """detectron2's semantic-segmentation dicts of one condition's validation split, in frame order
    (detectron2's ``load_sem_seg`` reads one folder level; ACDC nests sequences)."""
    images, labels = acdc_pairs(root, condition)
    return [{"file_name": str(images[k]), "sem_seg_file_name": str(labels[k])} for k in sorted(images)
            if k in labels]


def register_acdc(root: str | Path, stuff_classes: Sequence[str], prefix: str = "acdc",
                  conditions: Sequence[str] = ACDC_CONDITIONS) -> dict[str, str]:
    """Register each condition as ``<prefix>_<condition>`` (a detectron2 semantic-segmentation set with
    ``stuff_classes`` and ignore label 255); returns ``{condition: dataset name}``. A name registered for
    another root is registered anew."""
    from detectron2.data import DatasetCatalog, MetadataCatalog

    names = {}
    for condition, (images, labels) in acdc_layout(root, conditions).items():
        name = names[condition] = f"{prefix}_{condition}"
        if name in DatasetCatalog.list():
            if getattr(MetadataCatalog.get(name), "image_root", None) == str(images):
                continue
            DatasetCatalog.remove(name)
            MetadataCatalog.remove(name)
        DatasetCatalog.register(name, lambda r=Path(root), c=condition: acdc_dicts(r, c))
        MetadataCatalog.get(name).set(image_root=str(images), sem_seg_root=str(labels),
                                      stuff_classes=list(stuff_classes), ignore_label=IGNORE_LABEL,
                                      evaluator_type="sem_seg")
    return names


def _fog(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Haze that thickens towards the top of the frame (farther away in a driving scene)."""
    rows = np.linspace(0.65, 0.25, img.height)[:, None, None]
    pixels = np.asarray(img.filter(ImageFilter.GaussianBlur(1.2)), dtype=np.float32)
    return Image.fromarray(np.uint8(pixels * (1 - rows) + 215 * rows))


def _night(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Dark, blue-shifted, noisy, with a few light sources."""
    pixels = np.asarray(img, dtype=np.float32) * np.array([0.22, 0.25, 0.35])
    pixels += rng.normal(0, 6, pixels.shape)
    for y, x in zip(rng.integers(0, img.height, 3), rng.integers(0, img.width, 3), strict=True):
        pixels[max(0, y - 1):y + 2, max(0, x - 1):x + 2] = (255, 236, 180)
    return Image.fromarray(np.uint8(np.clip(pixels, 0, 255)))


def _rain(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Darker, slightly blurred, with bright diagonal streaks."""
    pixels = np.asarray(img.filter(ImageFilter.GaussianBlur(0.8)), dtype=np.float32) * 0.75
    for y, x in zip(rng.integers(0, img.height, 40), rng.integers(0, img.width, 40), strict=True):
        for step in range(4):
            if y + step < img.height and x + step // 2 < img.width:
                pixels[y + step, x + step // 2] = 200
    return Image.fromarray(np.uint8(pixels))


def _snow(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Brighter, washed out, with white flakes."""
    pixels = np.asarray(img, dtype=np.float32) * 0.7 + 70
    flakes = rng.random((img.height, img.width)) < 0.03
    pixels[flakes] = 250
    return Image.fromarray(np.uint8(np.clip(pixels, 0, 255)))


STYLES: dict[str, Callable[[Image.Image, np.random.Generator], Image.Image]] = {
    "fog": _fog, "night": _night, "rain": _rain, "snow": _snow}


def build_tiny_acdc(records: Sequence[dict], out: str | Path, version_key: str) -> Path:
    """Restyle every image of a semantic-segmentation set (detectron2 dicts with ``file_name`` and
    ``sem_seg_file_name``) once per condition into ACDC's layout, labels copied unchanged (built once;
    ``version_key`` names the source and the build's version holds its files' bytes, so another source or
    a rebuilt one rebuilds). Each image is one frame of sequence ``seq0``; styles are seeded by condition
    and image index."""
    files = [[r["file_name"], r["sem_seg_file_name"]] for r in records]
    source = sha256_json([[sha256_file(path) for path in pair] for pair in files])

    def build(staging: Path) -> None:
        for c_index, condition in enumerate(ACDC_CONDITIONS):
            images = staging / "rgb_anon" / condition / SPLIT / "seq0"
            labels = staging / "gt" / condition / SPLIT / "seq0"
            images.mkdir(parents=True)
            labels.mkdir(parents=True)
            for i, record in enumerate(records):
                rng = np.random.default_rng([c_index, i])
                with Image.open(record["file_name"]) as img:
                    STYLES[condition](img.convert("RGB"), rng).save(images / f"frame{i:04d}{IMAGE_SUFFIX}")
                shutil.copyfile(record["sem_seg_file_name"], labels / f"frame{i:04d}{LABEL_SUFFIX}")

    return build_once(Path(out), build, f"{VERSION}:{version_key}:{source}")


def build_tiny_acdc_set(source: str = "fan_synth_seg_val") -> tuple[Path, list[str]]:
    """The demo's and tests' ACDC-shaped set: a registered tiny segmentation set restyled per condition,
    built once under ``<cache>/datasets/tiny_acdc-<source>``; returns the root and the source's classes."""
    from detectron2.data import DatasetCatalog, MetadataCatalog

    from fan_det.data.register import register_tiny_datasets
    from fan_det.paths import datasets_dir

    register_tiny_datasets()
    records = DatasetCatalog.get(source)
    root = build_tiny_acdc(records, datasets_dir() / f"tiny_acdc-{source}", version_key=source)
    return root, list(MetadataCatalog.get(source).stuff_classes)
