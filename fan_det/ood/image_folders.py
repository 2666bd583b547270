"""ImageFolder trees named by wnid, checked against timm's synset lists, and the ImageNet-C layout.

Every class folder must be an ImageNet-1k wnid (and, for ImageNet-A/-R, one of the subset's 200): an
unknown folder is an error that names it. Classes missing from a tiny copy are fine and reported.
Images are forced to RGB (grayscale, CMYK, palette); an unreadable file does not stop a data-loader
worker: it comes back as a skipped sample for the caller to report, count or refuse.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from fan_det.ood.synsets import wnid_to_index
from fan_det.protocol import ALL_CORRUPTIONS

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".ppm",
                              ".pgm"})
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


def scan_wnid_folder(root: str | Path, allowed: Collection[str] | None = None,
                     dataset: str = "dataset") -> tuple[list[tuple[str, int]], list[str]]:
    """List ``(path, 1k class index)`` of every image under ``root/<wnid>/`` and the wnids present.

    ``allowed`` restricts the wnids (ImageNet-A/-R's 200). Files are sorted, so the order is stable.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetLayoutError(f"{dataset}: {root} is not a directory")
    index = wnid_to_index()
    allowed = None if allowed is None else set(allowed)
    samples: list[tuple[str, int]] = []
    present: list[str] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        wnid = folder.name
        if wnid not in index:
            raise DatasetLayoutError(f"{dataset}: folder {folder} is not an ImageNet-1k wnid "
                                     "(expected folders named like n01440764)")
        if allowed is not None and wnid not in allowed:
            raise DatasetLayoutError(f"{dataset}: folder {folder} ({wnid}) is not one of this dataset's "
                                     f"{len(allowed)} classes")
        files = sorted(f for f in folder.rglob("*")
                       if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS and not f.name.startswith("."))
        if files:
            present.append(wnid)
            samples.extend((str(f), index[wnid]) for f in files)
    if not samples:
        raise DatasetLayoutError(f"{dataset}: no images found under {root}/<wnid>/")
    return samples, present


class WnidImageFolder(torch.utils.data.Dataset):
    """``root/<wnid>/<image>`` as ``(image or None, 1k target, sample index, error or None)``."""

    def __init__(self, root: str | Path, transform: Callable | None = None,
                 allowed: Collection[str] | None = None, dataset: str = "dataset"):
        self.root = Path(root)
        self.transform = transform
        self.samples, self.classes_present = scan_wnid_folder(root, allowed, dataset)

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
