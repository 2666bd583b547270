"""--verify's recomputation, on files whose manifest hash was made to match (a build that wrote the wrong
image would look like this): wrong pixels (PNG) or bytes (JPEG) are named with their source, the build's
own seed is used, nested file names work; sources are hashed before use; the sample seed and size."""

from __future__ import annotations

import hashlib
import io
import json

import numpy as np
import pytest
from PIL import Image

from fan_det.corruptions import BuildError, ImageEntry, Settings, build_coco_c, verify_coco_c
from fan_det.corruptions.imageio import decode_image, encode_image
from fan_det.corruptions.verify import clock_seed


@pytest.fixture
def sources(small_coco):
    images = sorted(small_coco[1].iterdir())[:2]
    return [ImageEntry(i + 1, str(path), f"sub/{path.stem}.png") for i, path in enumerate(images)]


def tamper(out, rel, data):
    """Replace ``rel`` with ``data`` and record its hash, as if the build had written it."""
    (out / rel).write_bytes(data)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["files"][rel] = hashlib.sha256(data).hexdigest()
    (out / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("fmt", ["png", "jpg"])
def test_a_recorded_file_that_is_not_the_corruption_is_named_with_its_source(sources, tmp_path, fmt):
    entries = [ImageEntry(e.image_id, e.source, e.file.replace(".png", f".{fmt}")) for e in sources]
    out = tmp_path / "coco_c"
    build_coco_c(entries, out, ("gaussian_noise",), (3,), settings=Settings.make(seed=5, fmt=fmt),
                 progress=False)
    assert verify_coco_c(out, samples=None).ok  # the build's seed (5) is the one recomputed
    rel = f"gaussian_noise/3/{entries[0].file}"
    noise = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    tamper(out, rel, encode_image(noise, fmt))
    report = verify_coco_c(out, samples=None)
    what = "pixels differ from a fresh corruption of" if fmt == "png" else \
        "bytes differ from a fresh corruption and encoding of"
    assert report.mismatched == [f"{rel}: {what} {entries[0].source}"] and report.checked == 2


def test_a_source_changed_since_the_build_stops_the_recomputation(sources, tmp_path):
    image = tmp_path / "source.jpg"
    image.write_bytes(open(sources[0].source, "rb").read())
    out = tmp_path / "coco_c"
    build_coco_c([ImageEntry(1, str(image), "a.png")], out, ("brightness",), (1,), progress=False)
    image.write_bytes(open(sources[1].source, "rb").read())
    with pytest.raises(BuildError) as info:
        verify_coco_c(out, samples=None)
    assert str(info.value) == (f"source {image} changed since the build (sha256 differs): move the sources "
                               "back, or check hashes only with --verify-samples 0")


def test_an_unreadable_source_without_a_recorded_hash_is_named(sources, tmp_path):
    image = tmp_path / "source.jpg"
    image.write_bytes(open(sources[0].source, "rb").read())
    out = tmp_path / "coco_c"
    build_coco_c([ImageEntry(1, str(image), "a.png")], out, ("brightness",), (1,), progress=False)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["images"]["1"]["sha256"] = None
    (out / "manifest.json").write_text(json.dumps(manifest))
    image.write_bytes(b"not an image")
    with pytest.raises(BuildError, match=rf"^source {image} cannot be read \(.+\): move the sources back, "
                                         r"or check hashes only with --verify-samples 0$"):
        verify_coco_c(out, samples=None)


def test_by_default_16_files_are_recomputed_quietly(sources, tmp_path, capsys):
    out = tmp_path / "coco_c"
    build_coco_c(sources, out, ("brightness", "contrast"), (1, 2, 3, 4, 5), progress=False)
    capsys.readouterr()
    report = verify_coco_c(out, sample_seed=1)
    assert report.ok and report.hashed == 20 and report.checked == 16 and len(report.sampled) == 16
    assert capsys.readouterr().err == ""


def test_the_clock_seed_is_the_time_in_nanoseconds_modulo_2_to_the_31(monkeypatch):
    import fan_det.corruptions.verify as verify

    monkeypatch.setattr(verify.time, "time_ns", lambda: 5 * 2**31 + 12345)
    assert clock_seed() == 12345
    monkeypatch.setattr(verify.time, "time_ns", lambda: 2**31 - 1)
    assert clock_seed() == 2**31 - 1


def test_a_png_of_the_right_pixels_in_other_bytes_is_accepted(sources, tmp_path):
    """Another PNG encoder (here Pillow's, zlib level 9) writes the same pixels in other bytes."""
    out = tmp_path / "coco_c"
    build_coco_c(sources[:1], out, ("brightness",), (2,), progress=False)
    rel = f"brightness/2/{sources[0].file}"
    data = (out / rel).read_bytes()
    buffer = io.BytesIO()
    Image.fromarray(decode_image(data)).save(buffer, "PNG", compress_level=9)
    other = buffer.getvalue()
    assert other != data
    tamper(out, rel, other)
    report = verify_coco_c(out, samples=None)
    assert report.ok and report.checked == 1 and report.mismatched == []


def test_progress_bars_name_each_pass_and_count_files(sources, tmp_path, capsys):
    out = tmp_path / "coco_c"
    build_coco_c(sources, out, ("brightness",), (1, 2), progress=False)
    capsys.readouterr()
    assert verify_coco_c(out, samples=1, sample_seed=0, progress=True).ok
    done = [line for line in capsys.readouterr().err.replace("\r", "\n").splitlines() if "100%" in line]
    assert [(line.split("|")[0], line.split("|")[2].split(" [")[0]) for line in done] == [
        ("hash: 100%", " 4/4"), ("recompute: 100%", " 1/1")]
    assert all(line.endswith("file/s]") for line in done)
