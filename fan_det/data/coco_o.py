"""COCO-O folders: the authors' published layout, its registration with detectron2, and a tiny
COCO-O-shaped set made by restyling any COCO-format set once per domain.

The published release has one folder per domain, each laid out like COCO val2017:
``<root>/<domain>/val2017/<image>`` and ``<root>/<domain>/annotations/instances_val2017.json``.
The tiny set only exercises that path (a style change per domain, same boxes); it is not a natural shift.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageEnhance, ImageFilter, ImageOps

from fan_det.data.coco_format import build_once, write_json
from fan_det.protocol import COCO_O_DOMAINS
from fan_det.runtime.hashing import sha256_file, sha256_json

ANNOTATIONS = Path("annotations/instances_val2017.json")
IMAGES = Path("val2017")
VERSION = "tiny_coco_o/1"


class CocoOLayoutError(ValueError):
    """A COCO-O folder does not have the published layout (the message names what is missing)."""


def coco_o_layout(root: str | Path,
                  domains: tuple[str, ...] = COCO_O_DOMAINS) -> dict[str, tuple[Path, Path]]:
    """``{domain: (annotation json, image folder)}`` of a COCO-O root, refusing a foreign layout."""
    root = Path(root)
    if not root.is_dir():
        raise CocoOLayoutError(f"--coco-o-root {root} is not a directory")
    unknown = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
                     and p.name not in COCO_O_DOMAINS)
    if unknown:
        raise CocoOLayoutError(f"{root}: folder(s) {', '.join(unknown)} are not COCO-O domains "
                               f"({', '.join(COCO_O_DOMAINS)})")
    layout = {}
    for domain in domains:
        json_path, images = root / domain / ANNOTATIONS, root / domain / IMAGES
        if not json_path.is_file() or not images.is_dir():
            raise CocoOLayoutError(f"{root / domain}: expected {ANNOTATIONS} and {IMAGES}/ (COCO-O's "
                                   "published layout); download the release and unpack it unchanged")
        layout[domain] = (json_path, images)
    return layout


def register_coco_o(root: str | Path, prefix: str = "coco_o",
                    domains: tuple[str, ...] = COCO_O_DOMAINS) -> dict[str, str]:
    """Register each domain as ``<prefix>_<domain>`` (idempotent); returns ``{domain: dataset name}``.

    A name registered for another root is registered anew, so one process can evaluate two releases.
    """
    from detectron2.data import DatasetCatalog, MetadataCatalog
    from detectron2.data.datasets import register_coco_instances

    names = {}
    for domain, (json_path, images) in coco_o_layout(root, domains).items():
        name = names[domain] = f"{prefix}_{domain}"
        if name in DatasetCatalog.list():
            if getattr(MetadataCatalog.get(name), "json_file", None) == str(json_path):
                continue
            DatasetCatalog.remove(name)
            MetadataCatalog.remove(name)
        register_coco_instances(name, {}, str(json_path), str(images))
    return names


def _sketch(img: Image.Image) -> Image.Image:
    edges = ImageOps.grayscale(img).filter(ImageFilter.FIND_EDGES)
    return ImageOps.invert(ImageOps.autocontrast(edges)).convert("RGB")


def _cartoon(img: Image.Image) -> Image.Image:
    return ImageOps.posterize(img.filter(ImageFilter.ModeFilter(5)), 3)


def _painting(img: Image.Image) -> Image.Image:
    return ImageEnhance.Color(img.filter(ImageFilter.SMOOTH_MORE).quantize(24).convert("RGB")).enhance(1.6)


def _weather(img: Image.Image) -> Image.Image:
    haze = Image.new("RGB", img.size, (205, 210, 218))
    return Image.blend(img.filter(ImageFilter.GaussianBlur(1.5)), haze, 0.45)


def _handmake(img: Image.Image) -> Image.Image:
    return Image.blend(img, img.filter(ImageFilter.EMBOSS), 0.5)


def _tattoo(img: Image.Image) -> Image.Image:
    ink = ImageOps.autocontrast(ImageOps.grayscale(img), cutoff=5)
    return ImageOps.colorize(ink, black=(26, 26, 64), white=(232, 196, 160))


STYLES: dict[str, Callable[[Image.Image], Image.Image]] = {
    "sketch": _sketch, "cartoon": _cartoon, "painting": _painting, "weather": _weather,
    "handmake": _handmake, "tattoo": _tattoo,
}


def build_tiny_coco_o(source_json: Path, image_dir: Path, out: Path) -> Path:
    """Restyle every image of a COCO-format set once per domain into COCO-O's layout (built once; the
    build's version holds the source's json and image bytes, so a rebuilt source rebuilds it)."""
    source = json.loads(Path(source_json).read_text())
    files = [Path(source_json), *(Path(image_dir) / image["file_name"] for image in source["images"])]
    source_sha256 = sha256_json([sha256_file(path) for path in files])

    def build(staging: Path) -> None:
        for domain in COCO_O_DOMAINS:
            (staging / domain / IMAGES).mkdir(parents=True)
            (staging / domain / ANNOTATIONS).parent.mkdir(parents=True)
            for image in source["images"]:
                with Image.open(Path(image_dir) / image["file_name"]) as img:
                    styled = STYLES[domain](img.convert("RGB"))
                styled.save(staging / domain / IMAGES / Path(image["file_name"]).with_suffix(".png").name)
            renamed = [{**im, "file_name": Path(im["file_name"]).with_suffix(".png").name}
                       for im in source["images"]]
            write_json(staging / domain / ANNOTATIONS, {**source, "images": renamed})

    return build_once(Path(out), build, f"{VERSION}:{Path(source_json).resolve()}:{source_sha256}")


def build_tiny_coco_o_set(source: str = "fan_synth_val_mini") -> Path:
    """The demo's and tests' COCO-O-shaped set: a tiny registered set restyled per domain, built once
    under ``<cache>/datasets/tiny_coco_o``."""
    from fan_det.data.register import tiny_datasets
    from fan_det.paths import datasets_dir

    json_path, images = tiny_datasets()[source]
    return build_tiny_coco_o(json_path, images, datasets_dir() / "tiny_coco_o")
