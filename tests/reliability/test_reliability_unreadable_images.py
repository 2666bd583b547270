"""One policy for images that cannot be read (truncated, undecodable, a broken link with an image suffix,
missing), in every tool: one ``error:`` line naming the file, or under --skip-bad the image is skipped and
recorded with its path."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from reliability_corruptions_helpers import build_args, make_coco
from reliability_ood_helpers import TINY, assert_refused, class_folders, run_cli

from fan_det.build_coco_c import main as build_coco_c
from fan_det.results import OODResult


def truncated_png(path) -> None:
    buffer = io.BytesIO()
    pixels = np.random.default_rng(1).integers(0, 256, (30, 30, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(buffer, "PNG")
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])


def make_bad(kind: str, path) -> None:
    if kind == "truncated":
        truncated_png(path)
    elif kind == "undecodable":
        path.write_bytes(b"\xff\xd8 not a jpeg at all")
    else:  # a broken link: neither an image nor a file to leave out without a word
        path.symlink_to(path.parent / "gone.png")


BAD = {"truncated": "cut.png", "undecodable": "garbage.jpg", "broken link": "link.jpg"}


@pytest.mark.parametrize("kind", BAD)
def test_eval_ood_refuses_an_unreadable_image_naming_it(tmp_path, capsys, kind):
    val = class_folders(tmp_path / "val", {0: 2, 3: 1})
    bad = val / next(p.name for p in val.iterdir()) / BAD[kind]
    make_bad(kind, bad)
    out = ["--out", str(tmp_path / "o")]
    code, err = run_cli(["--model", TINY, "--dataset", f"imagenet={val}", *out], capsys)
    assert_refused(code, err, f"cannot read image {bad}", "rerun with --skip-bad")
    assert not (tmp_path / "o" / "ood.json").exists()


def test_eval_ood_skip_bad_records_every_skipped_path(tmp_path, capsys):
    val = class_folders(tmp_path / "val", {0: 2, 3: 1})
    folder = val / sorted(p.name for p in val.iterdir())[0]
    bad = sorted(folder / name for name in BAD.values())
    for kind, name in BAD.items():
        make_bad(kind, folder / name)
    code, err = run_cli(["--model", TINY, "--dataset", f"imagenet={val}", "--out", str(tmp_path / "o"),
                         "--skip-bad"], capsys)
    assert code == 0, err
    entry = OODResult.load(tmp_path / "o" / "ood.json").datasets["imagenet"]
    assert entry["num_skipped"] == 3 and entry["skipped"] == [str(p) for p in bad]
    assert entry["num_images"] == 3  # the readable ones only


def test_eval_ood_refuses_strict_with_skip_bad(tmp_path, capsys):
    val = class_folders(tmp_path / "val", {0: 1})
    code, err = run_cli(["--model", TINY, "--dataset", f"imagenet={val}", "--out", str(tmp_path / "o"),
                         "--skip-bad", "--strict"], capsys)
    assert_refused(code, err, "contradicts --skip-bad")


@pytest.mark.parametrize("kind", [*BAD, "missing"])
def test_build_coco_c_refuses_with_the_same_words(tmp_path, capsys, kind):
    json_path, images = make_coco(tmp_path / "src", count=2)
    bad = images / "im001.png"
    bad.unlink()
    if kind != "missing":
        make_bad(kind, bad)
    assert build_coco_c(build_args(json_path, images, tmp_path / "out")) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and f"cannot read image {bad}" in lines[0], err
    assert "rerun with --skip-bad to skip it and record it as skipped" in lines[0]


CONFIG = "configs/tiny/retinanet_fan_tiny_hybrid_synth.yaml"  # 4 classes
SMALL = ["INPUT.MIN_SIZE_TEST", "64", "INPUT.MAX_SIZE_TEST", "96"]


@pytest.fixture
def no_inference(monkeypatch):
    from fan_det.robustness import job

    def refuse(*args, **kwargs):
        raise AssertionError("inference started with an unreadable image in the dataset")
    monkeypatch.setattr(job, "run_job", refuse)


def detection_refusal(capsys, tool, argv, bad) -> None:
    with pytest.raises(SystemExit) as info:
        tool(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert info.value.code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert f"cannot read image {bad}" in lines[0] and "rerun with --skip-bad to skip it" in lines[0]


@pytest.mark.parametrize("kind", [*BAD, "missing"])
def test_eval_coco_c_refuses_an_unreadable_image_before_inference(tmp_path, capsys, no_inference, kind):
    from detectron2.data import DatasetCatalog, MetadataCatalog

    from fan_det.eval_coco_c import main as eval_coco_c

    _, images = make_coco(tmp_path / "src", count=3)
    bad = images / "im001.png"
    bad.unlink()
    if kind != "missing":
        make_bad(kind, bad)
    name = f"unreadable_{kind.replace(' ', '_')}_{tmp_path.name}"
    dicts = [{"file_name": str(images / f"im{i:03d}.png"), "image_id": i + 1, "height": 40, "width": 56,
              "annotations": []} for i in range(3)]
    DatasetCatalog.register(name, lambda: dicts)
    MetadataCatalog.get(name).set(thing_classes=["a", "b", "c", "d"])
    detection_refusal(capsys, eval_coco_c, [
        "--config", CONFIG, "--random-init", "--dataset", name, "--corruptions", "fog", "--severities", "1",
        "--allow-partial", "--workers", "0", "--out", str(tmp_path / "o"), *SMALL], bad)


def test_eval_coco_o_refuses_an_unreadable_image_before_inference(tmp_path, capsys, no_inference):
    import shutil

    from fan_det.data.coco_o import build_tiny_coco_o_set
    from fan_det.eval_coco_o import main as eval_coco_o

    root = tmp_path / "coco_o"
    shutil.copytree(build_tiny_coco_o_set(), root)  # copies: the shared set is never written
    bad = sorted((root / "cartoon" / "val2017").iterdir())[1]
    truncated_png(bad)
    detection_refusal(capsys, eval_coco_o, [
        "--config", CONFIG, "--random-init", "--coco-o-root", str(root), "--domains", "cartoon",
        "--workers", "0", "--out", str(tmp_path / "o"), *SMALL], bad)
