"""ImageFolder trees named by wnid (or, for ImageNetV2, by class index), checked against timm's class
lists, and the ImageNet-C layout.

Every class folder must be an ImageNet-1k wnid (and, for ImageNet-A/-R, one of the subset's 200): an
unknown folder is an error that names it. ImageNetV2 is released with folders ``0``..``999`` named by
class index; such a folder maps to that index directly (sorting the names as strings, as a plain
ImageFolder does, would put ``10`` before ``2``); a tree that is neither layout is refused. Classes
missing from a tiny copy are fine and reported.
Images are forced to RGB (grayscale, CMYK, palette); an unreadable file does not stop a data-loader
worker: it comes back as a skipped sample for the caller to report, count or refuse.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from fan_det.ood.synsets import imagenet_wnids, wnid_to_index
from fan_det.protocol import ALL_CORRUPTIONS

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".ppm",
                              ".pgm"})
WNID_LAYOUT, INDEX_LAYOUT = "wnid", "index"
_INDEX_NAME = re.compile(r"0|[1-9][0-9]{0,2}")
_UNREADABLE = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)


class DatasetLayoutError(ValueError):
    """A dataset folder does not have the expected layout (the message names the offending path)."""


def load_rgb(path: str | Path) -> Image.Image:
    """Decode an image as 3-channel RGB whatever its mode (L, LA, CMYK, P, RGBA, I;16...)."""
    with Image.open(path) as img:
        img.load()
        if img.mode == "P":
            img = img.convert("RGBA")
        return img.convert("RGB")


def class_folders(root: str | Path, dataset: str = "dataset") -> list[Path]:
    """The visible sub-folders of ``root`` (one per class), sorted by name."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetLayoutError(f"{dataset}: {root} is not a directory")
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def detect_layout(names: Collection[str]) -> str | None:
    """``"index"`` when every name is a 1k class index written plainly (``0``..``999``, as ImageNetV2 is
    released), ``"wnid"`` when every name is an ImageNet-1k wnid, else None."""
    if names and all(_INDEX_NAME.fullmatch(n) for n in names):
        return INDEX_LAYOUT
    if names and all(n in wnid_to_index() for n in names):
        return WNID_LAYOUT
    return None


def _folder_target(folder: Path, layout: str, dataset: str) -> int:
    if layout == INDEX_LAYOUT:
        return int(folder.name)  # the name IS the class index (never its position in sorted-name order)
    if folder.name not in wnid_to_index():
        raise DatasetLayoutError(f"{dataset}: folder {folder} is not an ImageNet-1k wnid "
                                 "(expected folders named like n01440764)")
    return wnid_to_index()[folder.name]


Samples = list[tuple[str, int]]


def scan_class_folders(root: str | Path, allowed: Collection[str] | None = None, dataset: str = "dataset",
                       layouts: Collection[str] = (WNID_LAYOUT,)) -> tuple[Samples, list[str], str]:
    """List ``(path, 1k class index)`` of every image under ``root/<class>/``, the wnids present and the
    layout found (one of ``layouts``: ``"wnid"`` folders, or ``"index"`` folders ``0``..``999``).

    ``allowed`` restricts the wnids (ImageNet-A/-R's 200). Files are sorted, so the order is stable.
    """
    folders = class_folders(root, dataset)
    if not folders:
        raise DatasetLayoutError(f"{dataset}: no class folders under {root} (expected <class>/<image>)")
    layout = detect_layout([f.name for f in folders]) if INDEX_LAYOUT in layouts else WNID_LAYOUT
    if layout is None:
        odd = [f.name for f in folders if not _INDEX_NAME.fullmatch(f.name) and f.name not in wnid_to_index()]
        sample = ", ".join(repr(n) for n in (odd or [f.name for f in folders])[:3])
        raise DatasetLayoutError(
            f"{dataset}: the folders under {root} are neither all class indices 0..999 (the released "
            f"ImageNetV2 layout) nor all ImageNet-1k wnids (e.g. {sample}); refusing to guess the class "
            "order: rename the folders to one of the two layouts")
    wnids = imagenet_wnids()
    allowed = None if allowed is None else set(allowed)
    samples: list[tuple[str, int]] = []
    present: list[str] = []
    for folder in folders:
        target = _folder_target(folder, layout, dataset)
        if allowed is not None and wnids[target] not in allowed:
            raise DatasetLayoutError(f"{dataset}: folder {folder} ({wnids[target]}) is not one of this "
                                     f"dataset's {len(allowed)} classes")
        # a broken link with an image suffix is a sample, so that it is refused or skipped like any
        # unreadable image rather than left out without a word
        files = sorted(f for f in folder.rglob("*") if (f.is_file() or (f.is_symlink() and not f.exists()))
                       and f.suffix.lower() in IMAGE_EXTENSIONS and not f.name.startswith("."))
        if files:
            present.append(wnids[target])
            samples.extend((str(f), target) for f in files)
    if not samples:
        raise DatasetLayoutError(f"{dataset}: no images found under {root}/<class>/")
    return samples, present, layout


def scan_wnid_folder(root: str | Path, allowed: Collection[str] | None = None,
                     dataset: str = "dataset") -> tuple[Samples, list[str]]:
    """List ``(path, 1k class index)`` of every image under ``root/<wnid>/`` and the wnids present."""
    samples, present, _ = scan_class_folders(root, allowed, dataset)
    return samples, present


class ClassImageFolder(torch.utils.data.Dataset):
    """``root/<class>/<image>`` as ``(image or None, 1k target, sample index, error or None)``."""

    def __init__(self, root: str | Path, transform: Callable | None = None,
                 allowed: Collection[str] | None = None, dataset: str = "dataset",
                 layouts: Collection[str] = (WNID_LAYOUT,)):
        self.root = Path(root)
        self.transform = transform
        self.samples, self.classes_present, self.layout = scan_class_folders(root, allowed, dataset, layouts)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int):
        path, target = self.samples[i]
        try:
            img = load_rgb(path)
            if self.transform is not None:
                img = self.transform(img)
        except _UNREADABLE as e:
            return None, target, i, f"{type(e).__name__}: {e}"
        return img, target, i, None


@dataclass
class Batch:
    """A collated batch with the unreadable samples set aside."""

    images: torch.Tensor | None
    targets: torch.Tensor
    indices: torch.Tensor
    skipped: list[tuple[int, str]]  # (sample index, error)


def collate_skipping(items: list) -> Batch:
    good = [it for it in items if it[3] is None]
    skipped = [(it[2], it[3]) for it in items if it[3] is not None]
    return Batch(
        images=torch.stack([it[0] for it in good]) if good else None,
        targets=torch.tensor([it[1] for it in good], dtype=torch.long),
        indices=torch.tensor([it[2] for it in good], dtype=torch.long),
        skipped=skipped,
    )


def imagenet_c_cells(root: str | Path) -> list[tuple[str, int, Path]]:
    """``(corruption, severity, folder)`` of an ImageNet-C tree ``root/<corruption>/<severity>/<wnid>/``."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetLayoutError(f"imagenet-c: {root} is not a directory")
    known = set(ALL_CORRUPTIONS)
    cells = []
    for cdir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if cdir.name not in known:
            raise DatasetLayoutError(f"imagenet-c: folder {cdir} is not a corruption name; expected one of "
                                     f"{', '.join(sorted(known))}")
        for sdir in sorted(p for p in cdir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if sdir.name not in {"1", "2", "3", "4", "5"}:
                raise DatasetLayoutError(f"imagenet-c: folder {sdir} is not a severity 1-5")
            cells.append((cdir.name, int(sdir.name), sdir))
    if not cells:
        raise DatasetLayoutError(f"imagenet-c: no <corruption>/<severity>/ folders under {root}")
    return cells
