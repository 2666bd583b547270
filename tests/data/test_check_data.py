"""check_data: a verdict per set (OK, or the problems named) for sets laid out right and wrong."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from fan_det.check_data import main
from fan_det.corruptions.manifest import SCHEMA
from fan_det.data.ood_sets import build_ood_sets, labelled_photos
from fan_det.data.real_photos import build_real_photos
from fan_det.ood.synsets import imagenet_wnids, subset_wnids
from fan_det.protocol import BENCHMARK, SEVERITIES


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        status = main(list(argv))
    except SystemExit as e:
        status = e.code
    out = capsys.readouterr()
    return status, out.out, out.err


@pytest.fixture(scope="module")
def ood_sets():
    return build_ood_sets()


@pytest.fixture
def full_imagenet_a(tmp_path) -> Path:
    """All 200 ImageNet-A class folders, one (linked) photo in each."""
    photo = labelled_photos()[0][0]
    root = tmp_path / "imagenet-a"
    for wnid in subset_wnids("imagenet-a"):
        (root / wnid).mkdir(parents=True)
        os.link(photo, root / wnid / "a.jpg")
    return root


def test_tiny_sets_laid_out_right_pass(capsys, ood_sets):
    names = ("imagenet", "imagenet-a", "imagenet-r", "imagenet-sketch", "imagenet-v2")
    status, out, _ = run(capsys, "--tiny", *[a for n in names for a in (f"--{n}", str(ood_sets[n]))])
    assert status == 0, out
    assert "imagenet-a: OK" in out and "(6 images, 5 classes, wnid folders)" in out
    assert "imagenet-v2: OK" in out and "index folders" in out
    assert "5 of 5 set(s) OK" in out


def test_tiny_set_fails_the_official_counts(capsys, ood_sets):
    status, out, _ = run(capsys, "--imagenet-a", str(ood_sets["imagenet-a"]))
    assert status == 1
    assert "imagenet-a: PROBLEMS" in out
    assert "6 images, expected 7,500" in out and "195 of the 200 class folders missing or empty" in out


def test_every_class_present_and_the_expected_count_passes(capsys, full_imagenet_a):
    status, out, _ = run(capsys, "--imagenet-a", str(full_imagenet_a), "--expect-count", "200")
    assert status == 0 and "imagenet-a: OK" in out and "200 images, 200 classes" in out


def test_a_wrong_count_is_named(capsys, full_imagenet_a):
    status, out, _ = run(capsys, "--imagenet-a", str(full_imagenet_a), "--expect-count", "201")
    assert status == 1 and "200 images, expected 201" in out


def test_a_missing_class_folder_is_named(capsys, full_imagenet_a):
    gone = subset_wnids("imagenet-a")[17]
    shutil.rmtree(full_imagenet_a / gone)
    status, out, _ = run(capsys, "--imagenet-a", str(full_imagenet_a), "--expect-count", "199")
    assert status == 1
    assert f"1 of the 200 class folders missing or empty: {gone}" in out


def test_unexpected_folders_are_named(capsys, full_imagenet_a):
    outside = next(w for w in imagenet_wnids() if w not in set(subset_wnids("imagenet-a")))
    (full_imagenet_a / outside).mkdir()
    (full_imagenet_a / "cats").mkdir()
    status, out, _ = run(capsys, "--imagenet-a", str(full_imagenet_a), "--expect-count", "200")
    assert status == 1
    assert "2 unexpected folder(s)" in out and "cats" in out and outside in out


def test_a_flat_imagenet_val_is_a_foreign_layout_with_the_fix(capsys, tmp_path, ood_sets):
    flat = tmp_path / "val"
    flat.mkdir()
    for photo in ood_sets["imagenet"].rglob("*.jpg"):
        shutil.copyfile(photo, flat / photo.name)
    status, out, _ = run(capsys, "--tiny", "--imagenet", str(flat))
    assert status == 1
    assert "foreign layout: 20 images lie directly in the folder" in out
    assert "python -m fan_det.prepare_imagenet_val" in out


def test_class_folders_one_level_down_are_a_foreign_layout(capsys, tmp_path, ood_sets):
    shutil.copytree(ood_sets["imagenet-sketch"], tmp_path / "imagenet-sketch" / "sketch")
    status, out, _ = run(capsys, "--tiny", "--imagenet-sketch", str(tmp_path / "imagenet-sketch"))
    assert status == 1 and "one level down" in out and str(tmp_path / "imagenet-sketch" / "sketch") in out


def make_imagenet_c(root: Path, source: Path) -> Path:
    for corruption in BENCHMARK:
        for severity in SEVERITIES:
            shutil.copytree(source, root / corruption / str(severity), copy_function=os.link)
    return root


def test_imagenet_c_grid(capsys, tmp_path, ood_sets):
    root = make_imagenet_c(tmp_path / "imagenet-c", ood_sets["imagenet-a"])
    status, out, _ = run(capsys, "--tiny", "--imagenet-c", str(root))
    assert status == 0 and "imagenet-c: OK" in out and "75 cells, 450 images" in out
    status, out, _ = run(capsys, "--imagenet-c", str(root), "--expect-count", "5")
    assert status == 1 and "gaussian_noise/1: 6 images, expected 5" in out
    shutil.rmtree(root / "fog" / "3")
    (root / "blurry").mkdir()
    status, out, _ = run(capsys, "--tiny", "--imagenet-c", str(root))
    assert status == 1 and "foreign layout" in out and "blurry" in out
    (root / "blurry").rmdir()
    status, out, _ = run(capsys, "--tiny", "--imagenet-c", str(root))
    assert status == 1 and "1 of the 75 benchmark cells missing (mCE needs all): fog/3" in out


def test_coco_images_and_annotations(capsys, tmp_path):
    json_path, image_dir = build_real_photos()
    images = shutil.copytree(image_dir, tmp_path / "val2017")
    status, out, _ = run(capsys, "--coco", str(images), "--coco-annotations", str(json_path),
                         "--expect-count", "4")
    assert status == 0 and "coco: OK" in out and "4 images listed, 4 found" in out
    status, out, _ = run(capsys, "--coco", str(images), "--coco-annotations", str(json_path))
    assert status == 1 and "4 images in annotations.json, expected 5,000" in out
    status, out, _ = run(capsys, "--coco", str(tmp_path), "--coco-annotations", str(json_path),
                         "--expect-count", "4")
    assert status == 1 and "point at that folder" in out
    victim = sorted(images.iterdir())[0]
    victim.unlink()
    status, out, _ = run(capsys, "--coco", str(images), "--coco-annotations", str(json_path),
                         "--expect-count", "4")
    assert status == 1 and f"1 image(s) listed in annotations.json not in the folder: {victim.name}" in out


def test_coco_c_cells_and_files(capsys, tmp_path):
    root = tmp_path / "coco-c"
    files = ["a.png", "b.png"]
    for corruption in BENCHMARK:
        for severity in SEVERITIES:
            (root / corruption / str(severity)).mkdir(parents=True)
            for name in files:
                (root / corruption / str(severity) / name).write_bytes(b"png")
    manifest = {"schema": SCHEMA, "settings": {}, "versions": {}, "files": {}, "skipped": {},
                "images": {str(i): {"source": name, "file": name, "sha256": None}
                           for i, name in enumerate(files)}}
    (root / "manifest.json").write_text(json.dumps(manifest))
    status, out, _ = run(capsys, "--coco-c", str(root), "--expect-count", "2")
    assert status == 0 and "coco-c: OK" in out and "75 cells x 2 images" in out
    (root / "snow" / "2" / "b.png").unlink()
    shutil.rmtree(root / "contrast" / "5")
    status, out, _ = run(capsys, "--coco-c", str(root), "--expect-count", "2")
    assert status == 1
    assert "1 of the 75 benchmark cells missing (mPC needs all): contrast/5" in out
    assert "1 file(s) missing: snow/2/b.png" in out
    status, out, _ = run(capsys, "--coco-c", str(tmp_path / "elsewhere"))
    assert status == 1 and "foreign layout" in out and "build_coco_c" in out


@pytest.mark.parametrize("argv, message", [
    ([], "name at least one set"),
    (["--coco", "x"], "--coco and --coco-annotations go together"),
])
def test_usage_errors_are_one_line_and_status_2(capsys, argv, message):
    status, out, err = run(capsys, *argv)
    assert status == 2 and err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1
