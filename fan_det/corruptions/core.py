"""Reproducible corruption of one RGB image: the output depends only on (seed, key, corruption, severity).

``imagecorruptions`` draws from three random generators: numpy's global (legacy) state for most
corruptions, a fresh ``np.random.default_rng()`` handed to scikit-image in ``impulse_noise`` (unless a
``seed`` keyword is passed) and numba's own per-thread generator in ``glass_blur`` (seeded from a fresh
``default_rng`` unless a ``seed`` keyword is passed). Seeding numpy alone therefore leaves those two
random. The recipe here (documented in docs/coco_c.md) seeds all of them from one derived integer:

1. ``s = derive_seed(seed, key, corruption, severity)``: the first 4 bytes (little-endian) of
   ``sha256(f"fan_det.coco_c/v1|{seed}|{key}|{corruption}|{severity}")``, an integer in [0, 2**32);
2. ``np.random.seed(s)`` and, inside numba, ``np.random.seed(s)``;
3. ``imagecorruptions.corrupt(image, severity, corruption, seed=s)`` for ``glass_blur`` and
   ``impulse_noise`` (their own ``seed`` keyword), without the keyword for the others.

Numpy's global state is restored afterwards, and calls are serialised by a lock, so callers' own random
streams and other threads cannot shift the result.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import threading
from collections.abc import Iterator

import numpy as np

from fan_det.protocol import ALL_CORRUPTIONS, CLEAN, SEVERITIES

# corruptions that take their own ``seed`` keyword for a generator numpy's global seed does not reach
SEED_KEYWORD = frozenset({"glass_blur", "impulse_noise"})
# imagecorruptions refuses smaller images; smaller ones are mirrored up to this size and cropped back
MIN_SIDE = 32

_LOCK = threading.Lock()


def derive_seed(seed: int, key: str | int, corruption: str, severity: int) -> int:
    """The per-image, per-cell seed in [0, 2**32): a hash, so it never depends on order or process."""
    text = f"fan_det.coco_c/v1|{int(seed)}|{key}|{corruption}|{int(severity)}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


@functools.cache
def _numba_seeder():
    import numba

    @numba.njit(cache=False)
    def seed_numba(value):
        np.random.seed(value)

    return seed_numba


@functools.cache
def keep_glass_blur_machine_code() -> bool:
    """Let numba keep ``glass_blur``'s compiled pixel shuffle on disk; True when it can.

    numba compiles that function in every process that first calls it, 3-5 s of CPU (tens of images'
    worth of the corruption itself), so each spawned builder worker paid it again. With numba's cache
    (beside the library, or under ``NUMBA_CACHE_DIR``) every later process loads it in about 0.1 s; the
    machine code, and so every output, is the same. Without a writable cache folder it compiles as before.
    """
    from imagecorruptions import corruptions

    shuffle = getattr(corruptions, "_shuffle_pixels_njit_glass_blur", None)
    try:
        shuffle.enable_caching()
    except (AttributeError, RuntimeError):  # another library version, or nowhere to write the cache
        return False
    return True


@contextlib.contextmanager
def seeded(value: int) -> Iterator[None]:
    """Seed numpy's global generator and numba's (this thread's) with ``value``; restore numpy's after."""
    with _LOCK:
        saved = np.random.get_state()
        np.random.seed(value)
        _numba_seeder()(value)
        try:
            yield
        finally:
            np.random.set_state(saved)


def check_rgb(image: np.ndarray) -> None:
    """Refuse anything but an RGB uint8 HxWx3 array, saying what was given."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f"expected a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an RGB uint8 HxWx3 image, got dtype {image.dtype} shape {image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"empty image of shape {image.shape}")


def _pad_to_min_side(image: np.ndarray) -> np.ndarray:
    pad_h, pad_w = max(0, MIN_SIDE - image.shape[0]), max(0, MIN_SIDE - image.shape[1])
    if not pad_h and not pad_w:
        return image
    return np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)), mode="symmetric")


def corrupt(image: np.ndarray, corruption: str, severity: int, *, seed: int = 0,
            key: str | int = 0) -> np.ndarray:
    """Corrupt an RGB uint8 HxWx3 image; same shape and dtype out.

    ``key`` identifies the image (its COCO id); ``severity`` 0 or ``corruption`` "clean" returns a copy.
    Images under 32 px on a side are mirrored (numpy ``symmetric``) at the bottom/right up to 32 px,
    corrupted, and cropped back.
    """
    check_rgb(image)
    if corruption == CLEAN or severity == 0:
        return image.copy()
    if corruption not in ALL_CORRUPTIONS:
        raise ValueError(f"unknown corruption {corruption!r}; known: {', '.join(ALL_CORRUPTIONS)}")
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be 0 (clean) or 1..5, got {severity!r}")
    import imagecorruptions

    if corruption == "glass_blur":
        keep_glass_blur_machine_code()
    value = derive_seed(seed, key, corruption, severity)
    kwargs = {"seed": value} if corruption in SEED_KEYWORD else {}
    height, width = image.shape[:2]
    with seeded(value):
        out = imagecorruptions.corrupt(_pad_to_min_side(image), severity, corruption, **kwargs)
    out = np.ascontiguousarray(out[:height, :width])
    if out.shape != image.shape or out.dtype != np.uint8:  # the library promises this; make sure of it
        raise RuntimeError(f"{corruption} returned {out.dtype} {out.shape} for input {image.shape}")
    return out
