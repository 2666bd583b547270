"""--verify checks a COCO-C against the dataset it was built for: every image x cell built or recorded as
skipped (a build stopped early is "incomplete", never "OK"), every file's hash, and the sources it
recomputes from; eval_coco_c refuses an incomplete root before any inference, naming the missing files."""

import numpy as np
import pytest
from PIL import Image
from reliability_corruptions_helpers import build_args, make_coco

import fan_det.corruptions.builder as builder
from fan_det.build_coco_c import main
from fan_det.corruptions import BuildError, read_manifest, verify_coco_c
from fan_det.paths import REPO_ROOT

PLANNED = 4 * 2 * 2  # make_coco's 4 images x build_args' 2 corruptions x 2 severities


def stop_after(monkeypatch, images: int) -> None:
    """The build is interrupted (Ctrl-C) once ``images`` images are done."""
    real, done = builder._process_image, []

    def process(task):
        if len(done) == images:
            raise KeyboardInterrupt
        done.append(task)
        return real(task)

    monkeypatch.setattr(builder, "_process_image", process)


def test_verify_of_an_interrupted_build_says_incomplete_and_fails(tmp_path, monkeypatch, capsys):
    json_path, images = make_coco(tmp_path / "src")
    out = tmp_path / "coco_c"
    stop_after(monkeypatch, 1)
    with pytest.raises(KeyboardInterrupt):
        main(build_args(json_path, images, out))
    monkeypatch.undo()
    capsys.readouterr()
    assert main(["--out", str(out), "--verify", "--no-progress"]) == 1
    printed = capsys.readouterr().out
    unrecorded = PLANNED - len(read_manifest(out)["files"])
    assert unrecorded >= PLANNED - 4 and f"incomplete: {unrecorded} missing" in printed
    assert "FAIL missing brightness/1/im003.png" in printed
    assert main(build_args(json_path, images, out)) == 0  # the rerun finishes it
    assert main(["--out", str(out), "--verify", "--no-progress"]) == 0
    assert "OK" in capsys.readouterr().out


def test_an_image_recorded_as_skipped_is_not_missing(tmp_path, capsys):
    json_path, images = make_coco(tmp_path / "src")
    (images / "im002.png").write_bytes(b"not a png")
    out = tmp_path / "coco_c"
    assert main(build_args(json_path, images, out, "--skip-bad")) == 0
    report = verify_coco_c(out, samples=0)
    assert report.ok and report.hashed == PLANNED - 4 and not report.missing


def test_verify_hashes_every_file_of_the_manifest(tmp_path, capsys):
    json_path, images = make_coco(tmp_path / "src", count=12)
    out = tmp_path / "coco_c"
    assert main(build_args(json_path, images, out)) == 0
    last = sorted(read_manifest(out)["files"])[-1]
    (out / last).write_bytes((out / last).read_bytes() + b"\0")
    report = verify_coco_c(out, samples=0)
    assert report.hashed == 12 * 2 * 2
    assert report.mismatched == [f"{last}: sha256 differs from the manifest"]


def test_a_source_changed_since_the_build_is_named_not_recomputed(tmp_path, capsys):
    json_path, images = make_coco(tmp_path / "src", count=3)
    out = tmp_path / "coco_c"
    assert main(build_args(json_path, images, out)) == 0
    other = np.random.default_rng(7).integers(0, 256, (40, 56, 3), dtype=np.uint8)
    Image.fromarray(other).save(images / "im001.png")
    with pytest.raises(BuildError, match=r"source .*im001\.png changed since the build \(sha256 differs\)"):
        verify_coco_c(out, samples=None)
    capsys.readouterr()
    assert main(["--out", str(out), "--verify", "--verify-samples", "all", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "im001.png changed since the build" in err[0]


def test_eval_refuses_an_incomplete_root_before_inference_naming_the_missing_files(tmp_path, monkeypatch,
                                                                                  capsys):
    from fan_det.corruptions import Settings, build_coco_c, load_images
    from fan_det.data.register import register_tiny_datasets
    from fan_det.eval_coco_c import main as eval_main

    register_tiny_datasets()
    dataset = "fan_synth_val_mini"
    entries = load_images(dataset, None, "png")
    root = tmp_path / "coco_c"
    stop_after(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        build_coco_c(entries, root, ["brightness"], [1], settings=Settings.make(), dataset=dataset,
                     progress=False)
    monkeypatch.undo()
    assert read_manifest(root)["files"] == {}  # two images are done, but only a rerun records them
    config = str(REPO_ROOT / "configs" / "tiny" / "retinanet_fan_tiny_hybrid_synth.yaml")
    with pytest.raises(SystemExit) as info:
        eval_main(["--config", config, "--random-init", "--dataset", dataset, "--corruptions", "brightness",
                   "--severities", "1", "--allow-partial", "--workers", "0", "--coco-c-root", str(root),
                   "--out", str(tmp_path / "out")])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --coco-c-root")
    assert f"incomplete: {len(entries)} built files missing" in err[0]
    assert str(root / "brightness" / "1" / entries[0].file) in err[0]  # the built file, not its source
    assert entries[0].source not in err[0]
    assert not (tmp_path / "out" / "cells").exists() and not (tmp_path / "out" / "robustness.json").exists()
