"""All 19 corruptions x 5 severities on the real photos: right shape and dtype, and the expected effect."""

import io

import numpy as np
import pytest
from PIL import Image

from fan_det.corruptions import ALL_CORRUPTIONS, corrupt


def gray(x):
    return x.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def high_freq(x):
    g = gray(x)
    return np.abs(np.diff(g, axis=0)).mean() + np.abs(np.diff(g, axis=1)).mean()


def saturation(x):
    x = x.astype(np.float64)
    return (x.max(axis=2) - x.min(axis=2)).mean()


def equal_neighbours(x):
    return np.all(x[:, 1:] == x[:, :-1], axis=2).mean()


def jpeg_roundtrip(x, quality):
    buffer = io.BytesIO()
    Image.fromarray(x).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(buffer))


CONTRAST = [0.4, 0.3, 0.2, 0.1, 0.05]
JPEG_QUALITY = [25, 18, 15, 10, 7]


def check_effect(name, severity, clean, out):
    """The property each corruption must show; thresholds sit well clear of the measured values."""
    hf = high_freq(out) / high_freq(clean)
    delta_mean = out.mean() - clean.mean()
    if name.endswith("_noise"):
        assert hf > 1.2
    elif name.endswith("_blur"):
        assert hf < 0.75
    elif name in ("snow", "frost", "brightness"):
        assert delta_mean > 10
    elif name == "fog":
        assert saturation(out) < 0.5 * saturation(clean) and hf < 0.6
    elif name == "contrast":
        assert abs(gray(out).std() / gray(clean).std() - CONTRAST[severity - 1]) < 0.03
    elif name == "elastic_transform":
        assert abs(delta_mean) < 3 and np.abs(out.astype(int) - clean).mean() > 5
    elif name == "pixelate":
        assert equal_neighbours(out) > equal_neighbours(clean) + 0.3
    elif name == "jpeg_compression":
        np.testing.assert_array_equal(out, jpeg_roundtrip(clean, JPEG_QUALITY[severity - 1]))
    elif name == "spatter":
        assert np.any(out != clean, axis=2).mean() > 0.01
    elif name == "saturate":
        ratio = saturation(out) / saturation(clean)
        assert ratio < 0.4 if severity <= 2 else ratio > 1.2
    else:
        raise AssertionError(f"no check for {name}")


@pytest.mark.parametrize("name", ALL_CORRUPTIONS)
def test_every_severity_changes_every_photo_as_expected(small_photos, name):
    for image_id, clean in small_photos:
        previous_brightness = clean.mean()
        for severity in range(1, 6):
            out = corrupt(clean, name, severity, key=image_id)
            assert out.shape == clean.shape and out.dtype == np.uint8
            assert np.any(out != clean)
            check_effect(name, severity, clean, out)
            if name == "brightness":  # stronger severities brighten more
                assert out.mean() > previous_brightness
                previous_brightness = out.mean()
