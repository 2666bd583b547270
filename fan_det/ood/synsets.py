"""ImageNet class lists as timm ships them: read, never retyped.

The 1000 wnids come from ``timm.data.ImageNetInfo`` (their order is the 1k class index). ImageNet-A
and -R each keep 200 of them; which 200 is ``protocol.CLASS_SUBSETS`` naming timm's
``_info/<name>_synsets.txt`` (ImageNetInfo has no entry for these 200-class lists), and each subset
wnid's 1k index is its position in ImageNetInfo's list.
"""

from __future__ import annotations

import pkgutil
from functools import cache

import numpy as np
from timm.data import ImageNetInfo

from fan_det.protocol import CLASS_SUBSETS

NUM_CLASSES = 1000


@cache
def imagenet_wnids() -> tuple[str, ...]:
    """The 1000 ImageNet-1k wnids in class-index order."""
    wnids = tuple(ImageNetInfo("imagenet-1k").label_names())
    if len(wnids) != NUM_CLASSES or len(set(wnids)) != NUM_CLASSES:
        raise RuntimeError(f"timm's ImageNet-1k class list has {len(wnids)} entries, expected 1000 unique")
    return wnids


@cache
def wnid_to_index() -> dict[str, int]:
    return {w: i for i, w in enumerate(imagenet_wnids())}


@cache
def subset_wnids(name: str) -> tuple[str, ...]:
    """Wnids of a 200-class subset dataset ("imagenet-a" or "imagenet-r"), in timm's order."""
    if name not in CLASS_SUBSETS:
        raise KeyError(f"no 200-class subset for {name!r}; known: {sorted(CLASS_SUBSETS)}")
    data = pkgutil.get_data("timm.data", f"_info/{CLASS_SUBSETS[name]}_synsets.txt")
    if data is None:
        raise FileNotFoundError(f"timm does not ship data/_info/{CLASS_SUBSETS[name]}_synsets.txt")
    wnids = tuple(data.decode("utf-8").split())
    unknown = [w for w in wnids if w not in wnid_to_index()]
    if unknown:
        raise RuntimeError(f"timm's {name} class list holds wnids outside ImageNet-1k: {unknown[:3]}")
    return wnids


@cache
def subset_indices(name: str) -> np.ndarray:
    """1k class indices of a subset dataset, in the order of ``subset_wnids`` (read-only)."""
    indices = np.array([wnid_to_index()[w] for w in subset_wnids(name)], dtype=np.int64)
    indices.setflags(write=False)
    return indices
