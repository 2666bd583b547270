"""The build settings a command line makes: the defaults (seed 0, PNG at zlib level 1; JPEG quality 95),
what each format keeps and encodes with, and the refusals of an unknown format or a JPEG quality outside
1..100."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from fan_det.corruptions import Settings
from fan_det.corruptions.imageio import decode_image


def test_the_defaults_of_each_format():
    png, jpg = Settings.make(), Settings.make(fmt="jpg")
    assert (png.seed, png.format, png.quality, png.png_compress_level) == (0, "png", None, 1)
    assert (jpg.seed, jpg.format, jpg.quality, jpg.png_compress_level) == (0, "jpg", 95, None)
    assert Settings.make(4, "png", 0, 6) == Settings(seed=4, format="png", quality=None, png_compress_level=6)
    jpg = Settings.make(4, "jpg", 80, 6)
    assert jpg == Settings(seed=4, format="jpg", quality=80, png_compress_level=None)


@pytest.mark.parametrize("quality", [1, 100])
def test_jpeg_quality_bounds_are_accepted(quality):
    assert Settings.make(fmt="jpg", quality=quality).quality == quality


@pytest.mark.parametrize(("fmt", "quality", "message"), [
    ("gif", 95, "format must be png or jpg, got 'gif'"),
    ("jpg", 0, "JPEG quality must be in 1..100, got 0"),
    ("jpg", 101, "JPEG quality must be in 1..100, got 101"),
])
def test_an_unknown_format_or_quality_is_refused(fmt, quality, message):
    with pytest.raises(ValueError) as info:
        Settings.make(fmt=fmt, quality=quality)
    assert str(info.value) == message


def test_each_format_encodes_with_its_own_setting():
    """zlib level 0 stores PNG rows uncompressed (larger than the raw pixels), level 1 compresses a
    two-tone image; a JPEG is Pillow's at the quality asked for."""
    image = np.zeros((40, 50, 3), np.uint8)
    image[:, :25] = np.random.default_rng(3).integers(1, 256, 3, dtype=np.uint8)
    stored, compressed = Settings.make(png_compress_level=0).encode(image), Settings.make().encode(image)
    assert len(stored) > image.size > 10 * len(compressed)
    assert all(np.array_equal(decode_image(data), image) for data in (stored, compressed))
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=40)
    assert Settings.make(fmt="jpg", quality=40).encode(image) == buffer.getvalue()
