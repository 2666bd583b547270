"""An image skipped with --skip-bad is tried again by the next run, so a restored image is built."""

import shutil

from reliability_corruptions_helpers import build_args, make_coco

from fan_det.build_coco_c import main
from fan_det.corruptions import read_manifest


def test_a_restored_image_is_built_by_a_rerun_without_skip_bad(tmp_path, capsys):
    json_path, images = make_coco(tmp_path / "src", count=3)
    out = tmp_path / "coco_c"
    hidden = tmp_path / "im001.png"
    shutil.move(images / "im001.png", hidden)
    assert main(build_args(json_path, images, out, "--skip-bad")) == 0
    manifest = read_manifest(out)
    assert list(manifest["skipped"]) == [str(images / "im001.png")] and len(manifest["files"]) == 8

    shutil.move(hidden, images / "im001.png")  # restored
    capsys.readouterr()
    assert main(build_args(json_path, images, out)) == 0
    assert "wrote 4 files, 8 already done" in capsys.readouterr().out
    manifest = read_manifest(out)
    assert manifest["skipped"] == {} and len(manifest["files"]) == 12
    assert (out / "contrast" / "3" / "im001.png").is_file()


def test_a_still_missing_image_stops_a_rerun_without_skip_bad(tmp_path, capsys):
    json_path, images = make_coco(tmp_path / "src", count=3)
    out = tmp_path / "coco_c"
    (images / "im002.png").unlink()
    assert main(build_args(json_path, images, out, "--skip-bad")) == 0
    capsys.readouterr()
    assert main(build_args(json_path, images, out)) == 2
    err = capsys.readouterr().err
    assert "im002.png: file not found" in err and "--skip-bad" in err
