"""ImageNet class lists as timm ships them (``timm/data/_info``): read, never retyped.

The 1000 wnids in ``imagenet_synsets.txt`` order define the 1k class index; ImageNet-A and -R each
keep 200 of them, listed by ``imagenet_{a,r}_indices.txt`` with the matching ``*_synsets.txt``.
"""

from __future__ import annotations

import pkgutil
from functools import cache

import numpy as np

# dataset name -> the timm file prefix of its 200-class subset
SUBSETS = {"imagenet-a": "imagenet_a", "imagenet-r": "imagenet_r"}


def _read_lines(filename: str) -> list[str]:
    data = pkgutil.get_data("timm.data", f"_info/{filename}")
    if data is None:
        raise FileNotFoundError(f"timm does not ship data/_info/{filename}")
    return [line.strip() for line in data.decode("utf-8").splitlines() if line.strip()]


@cache
def imagenet_wnids() -> tuple[str, ...]:
    """The 1000 ImageNet-1k wnids in class-index order."""
    wnids = tuple(_read_lines("imagenet_synsets.txt"))
    if len(wnids) != 1000 or len(set(wnids)) != 1000:
        raise RuntimeError(f"timm's imagenet_synsets.txt has {len(wnids)} entries, expected 1000 unique")
    return wnids


@cache
def wnid_to_index() -> dict[str, int]:
    return {w: i for i, w in enumerate(imagenet_wnids())}


@cache
def _subset(name: str) -> tuple[np.ndarray, tuple[str, ...]]:
    if name not in SUBSETS:
        raise KeyError(f"no 200-class subset for {name!r}; known: {sorted(SUBSETS)}")
    prefix = SUBSETS[name]
    indices = np.array([int(x) for x in _read_lines(f"{prefix}_indices.txt")], dtype=np.int64)
    wnids = tuple(_read_lines(f"{prefix}_synsets.txt"))
    if len(indices) != len(wnids) or tuple(imagenet_wnids()[i] for i in indices) != wnids:
        raise RuntimeError(f"timm's {prefix}_indices.txt and {prefix}_synsets.txt disagree")
    indices.setflags(write=False)
    return indices, wnids


def subset_indices(name: str) -> np.ndarray:
    """1k class indices of a subset dataset ("imagenet-a" or "imagenet-r"), in timm's order."""
    return _subset(name)[0]


def subset_wnids(name: str) -> tuple[str, ...]:
    """Wnids of a subset dataset, in the order of ``subset_indices``."""
    return _subset(name)[1]
