"""Any real image file reads as RGB uint8 (as detectron2 reads it) or is refused naming file and reason."""

import numpy as np
import pytest
from detectron2.data.detection_utils import read_image
from PIL import Image

from fan_det.corruptions import ImageReadError, corrupt, read_rgb


@pytest.fixture
def rgb():
    return np.random.default_rng(0).integers(0, 256, (40, 56, 3), dtype=np.uint8)


def awkward_files(tmp_path, rgb):
    """One file per awkward PIL mode, all saved from the same random RGB content."""
    base = Image.fromarray(rgb)
    paths = {}
    for mode, suffix in (("L", "png"), ("P", "png"), ("RGBA", "png"), ("LA", "png"), ("1", "png"),
                         ("CMYK", "jpg")):
        paths[mode] = tmp_path / f"{mode}.{suffix}"
        image = base.convert(mode)
        if mode == "RGBA":
            image.putalpha(Image.fromarray(rgb[:, :, 0]))
        image.save(paths[mode])
    return paths


def test_modes_read_as_detectron2_reads_them(tmp_path, rgb):
    for mode, path in awkward_files(tmp_path, rgb).items():
        with Image.open(path) as opened:
            assert opened.mode == mode
        ours = read_rgb(path)
        assert ours.dtype == np.uint8 and ours.shape == rgb.shape, mode
        np.testing.assert_array_equal(ours, read_image(str(path), format="RGB"), err_msg=mode)
        assert corrupt(ours, "fog", 2).shape == rgb.shape


def test_sixteen_bit_png_is_scaled_not_saturated(tmp_path):
    values = np.random.default_rng(1).integers(0, 65536, (36, 50), dtype=np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)
    with Image.open(path) as opened:
        assert opened.mode.startswith("I")
    ours = read_rgb(path)
    expected = np.floor(values / 257.0 + 0.5).astype(np.uint8)
    assert ours.shape == (36, 50, 3)
    for channel in range(3):
        np.testing.assert_array_equal(ours[:, :, channel], expected)
    assert ours.mean() < 200  # PIL's plain convert("RGB") would clip nearly everything to 255


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_applied_like_detectron2(tmp_path, rgb, orientation):
    path = tmp_path / f"exif{orientation}.jpg"
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(rgb).save(path, exif=exif, quality=95)
    ours = read_rgb(path)
    np.testing.assert_array_equal(ours, read_image(str(path), format="RGB"))
    assert ours.shape[:2] == (rgb.shape[1::-1] if orientation >= 5 else rgb.shape[:2])


def test_very_small_image_reads_and_corrupts(tmp_path):
    path = tmp_path / "tiny.png"
    Image.fromarray(np.random.default_rng(2).integers(0, 256, (6, 10, 3), dtype=np.uint8)).save(path)
    image = read_rgb(path)
    for corruption in ("glass_blur", "frost", "pixelate"):
        assert corrupt(image, corruption, 5).shape == (6, 10, 3)


def test_unusable_files_are_refused_with_path_and_reason(tmp_path, rgb):
    good = tmp_path / "good.jpg"
    Image.fromarray(np.random.default_rng(3).integers(0, 256, (200, 300, 3), dtype=np.uint8)).save(good)
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    cases = {truncated: "truncated", tmp_path / "missing.jpg": "file not found", text: "not an image",
             empty: "not an image"}
    for path, reason in cases.items():
        with pytest.raises(ImageReadError, match=reason) as info:
            read_rgb(path)
        assert info.value.path == str(path) and str(path) in str(info.value)
        assert reason in info.value.reason


# the EXIF 2.3 orientation table written out as numpy operations (independent of PIL and detectron2)
EXIF_REFERENCE = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
    8: lambda a: np.rot90(a, 1),
}


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_equals_the_exif_table(tmp_path, rgb, orientation):
    path = tmp_path / f"exif{orientation}.png"  # lossless, so pixels can be compared exactly
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(rgb).save(path, exif=exif)
    np.testing.assert_array_equal(read_rgb(path), EXIF_REFERENCE[orientation](rgb))
