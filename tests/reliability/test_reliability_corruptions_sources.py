"""A COCO-C folder is tied to the pixels of its sources, not to their file names."""

import json
import shutil

from reliability_corruptions_helpers import build_args, make_coco

from fan_det.build_coco_c import main
from fan_det.corruptions import read_manifest
from fan_det.runtime.hashing import sha256_file


def test_rerun_with_other_pixels_under_the_same_names_is_refused(tmp_path, capsys):
    json_path, images = make_coco(tmp_path / "a", seed=0)
    _, other_images = make_coco(tmp_path / "b", seed=1)  # same file names, other pixels
    out = tmp_path / "coco_c"
    assert main(build_args(json_path, images, out)) == 0
    manifest = read_manifest(out)
    assert manifest["images"]["1"]["sha256"] == sha256_file(images / "im000.png")
    assert manifest["images"]["1"]["source"] == str(images / "im000.png")
    files_before = {p: p.read_bytes() for p in out.rglob("*.png")}
    capsys.readouterr()

    assert main(build_args(json_path, other_images, out)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "other pixels" in err[0]
    assert "another --out" in err[0]
    assert {p: p.read_bytes() for p in out.rglob("*.png")} == files_before


def test_same_pixels_moved_elsewhere_are_accepted(tmp_path, capsys):
    json_path, images = make_coco(tmp_path / "a", seed=0)
    out = tmp_path / "coco_c"
    assert main(build_args(json_path, images, out)) == 0
    moved = tmp_path / "moved"
    shutil.copytree(images, moved)
    capsys.readouterr()
    assert main(build_args(json_path, moved, out)) == 0
    assert "wrote 0 files, 16 already done" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["images"]["1"]["source"] == str(moved / "im000.png")
