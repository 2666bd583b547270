"""Read any real image file as RGB uint8 HxWx3, or refuse it with the file and the reason.

EXIF orientation is applied exactly as detectron2's ``read_image`` applies it, so annotation boxes still
fit. Modes are converted as detectron2 converts them (``PIL.Image.convert("RGB")``: alpha is dropped,
CMYK and palettes converted), except 16-bit images, which PIL would saturate at 255: they are scaled
to 8 bits (value / 257, rounded).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from fan_det.corruptions.core import check_rgb

_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N", "I")


class ImageReadError(ValueError):
    """An image file that cannot be used: ``path`` and ``reason`` say which and why."""

    def __init__(self, path: str | Path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


def apply_exif_orientation(image: Image.Image) -> Image.Image:
    """Rotate/flip as the EXIF orientation tag says (PIL's ``exif_transpose``: detectron2's semantics)."""
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # broken EXIF blocks are ignored, as detectron2 does
        return image


def to_rgb_uint8(image: Image.Image) -> np.ndarray:
    """Convert a decoded PIL image of any common mode to an RGB uint8 HxWx3 array."""
    if image.mode in _SIXTEEN_BIT:
        values = np.asarray(image).astype(np.int64)
        if values.min() < 0 or values.max() > 65535:
            raise ValueError(f"mode {image.mode} values outside 0..65535")
        gray = np.round(values / 257.0).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    if image.mode == "F":
        raise ValueError("floating-point images (mode F) have no agreed 0..255 scale")
    return np.ascontiguousarray(np.asarray(image.convert("RGB")))


def read_rgb(path: str | Path) -> np.ndarray:
    """Decode ``path`` to RGB uint8 HxWx3 with EXIF orientation applied; ``ImageReadError`` if unusable."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImageReadError(path, "file not found") from None
    except OSError as err:
        raise ImageReadError(path, f"cannot read file ({err.strerror or err})") from None
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            array = to_rgb_uint8(apply_exif_orientation(image))
    except UnidentifiedImageError:
        raise ImageReadError(path, "not an image file PIL can identify") from None
    except (OSError, SyntaxError, ValueError) as err:
        reason = str(err)
        if "truncated" in reason:
            reason = f"truncated file ({reason})"
        raise ImageReadError(path, f"cannot decode: {reason}") from None
    try:
        check_rgb(array)
    except ValueError as err:
        raise ImageReadError(path, str(err)) from None
    return array


def encode_image(image: np.ndarray, fmt: str, *, quality: int = 95, png_compress_level: int = 1) -> bytes:
    """Encode RGB uint8 to PNG (lossless, the default) or JPEG; deterministic for fixed library builds."""
    if fmt == "png":  # OpenCV's libpng with zlib's RLE strategy: same size as PIL's, about 1.5x faster
        import cv2

        params = [cv2.IMWRITE_PNG_COMPRESSION, png_compress_level,
                  cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]
        ok, data = cv2.imencode(".png", np.ascontiguousarray(image[:, :, ::-1]), params)
        if not ok:
            raise RuntimeError("OpenCV failed to encode a PNG")
        return data.tobytes()
    buffer = io.BytesIO()
    if fmt == "jpg":
        Image.fromarray(image).save(buffer, "JPEG", quality=quality)
    else:
        raise ValueError(f"unknown image format {fmt!r}: expected png or jpg")
    return buffer.getvalue()


def decode_image(data: bytes) -> np.ndarray:
    """Decode PNG/JPEG bytes written by ``encode_image`` back to RGB uint8."""
    with Image.open(io.BytesIO(data)) as image:
        return to_rgb_uint8(image)
