"""Images replaced in place (same names, same annotations) are evaluated again, never answered from the
cache: every evaluator's key hashes the images' bytes, through one memo that reads only what changed."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from reliability_ood_helpers import TINY, run_cli

import fan_det.runtime.file_hashes as file_hashes_module
from fan_det.ood.synsets import imagenet_wnids
from fan_det.paths import REPO_ROOT
from fan_det.runtime.file_hashes import content_sha256, file_hashes


def replace_keeping_status(path: Path, data: bytes) -> None:
    """Rewrite ``path`` in place with ``data`` and set its modification time back (as ``cp -p`` does)."""
    st = path.stat()
    path.write_bytes(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


@pytest.fixture
def reads(monkeypatch) -> list[str]:
    """The files whose bytes the memo reads."""
    seen: list[str] = []
    real = file_hashes_module.sha256_file

    def sha256_file(path):
        seen.append(os.path.basename(path))
        return real(path)

    monkeypatch.setattr(file_hashes_module, "sha256_file", sha256_file)
    return seen


def test_the_memo_reads_each_file_once_and_again_only_when_it_changed(tmp_path, reads):
    rng = np.random.default_rng(3)
    files = []
    for i in range(5):
        files.append(tmp_path / "data" / f"f{i}.bin")
        files[-1].parent.mkdir(exist_ok=True)
        files[-1].write_bytes(rng.integers(0, 256, 300, dtype=np.uint8).tobytes())
    expected = [hashlib.sha256(f.read_bytes()).hexdigest() for f in files]
    assert file_hashes(files, tmp_path / "memo") == expected
    assert sorted(reads) == [f.name for f in files]
    assert file_hashes(files, tmp_path / "memo") == expected and len(reads) == 5  # nothing read again
    same_size = rng.integers(0, 256, 300, dtype=np.uint8).tobytes()
    replace_keeping_status(files[2], same_size)
    assert files[2].stat().st_size == 300
    changed = file_hashes(files, tmp_path / "memo")
    assert changed[2] == hashlib.sha256(same_size).hexdigest() and changed[:2] + changed[3:] == \
        expected[:2] + expected[3:]
    assert reads[5:] == ["f2.bin"]
    files[4].unlink()
    assert file_hashes(files, tmp_path / "memo")[4] is None  # the evaluator's read policy decides
    assert content_sha256(files[:2], tmp_path / "memo") == \
        hashlib.sha256(json.dumps(expected[:2]).encode()).hexdigest()


def _cells_events(out: Path) -> list[dict[str, set[str]]]:
    found = []
    for log in sorted(out.glob("cells/*/log.jsonl"), key=lambda p: p.stat().st_mtime_ns):
        events: dict[str, set[str]] = {}
        for line in log.read_text().splitlines():
            entry = json.loads(line)
            events.setdefault(entry["event"], set()).add("{}-{}".format(*entry["entry"]))
        found.append(events)
    return found


def test_coco_c_evaluates_images_replaced_in_place_again(tmp_path, reads):
    from detectron2.data import MetadataCatalog
    from detectron2.data.datasets import register_coco_instances

    from fan_det.data.register import register_tiny_datasets
    from fan_det.robustness.job import run_job
    from fan_det.robustness.run import CocoCOptions, prepare_coco_c

    register_tiny_datasets()
    meta = MetadataCatalog.get("fan_synth_val_mini")
    names = [im["file_name"] for im in json.loads(Path(meta.json_file).read_text())["images"]]
    images = tmp_path / "images"
    images.mkdir()
    for name in names:
        shutil.copy(Path(meta.image_root) / name, images / name)
    dataset = f"stale_{tmp_path.name}"
    register_coco_instances(dataset, {}, meta.json_file, str(images))
    config = str(REPO_ROOT / "configs" / "tiny" / "retinanet_fan_tiny_hybrid_synth.yaml")

    def run():
        options = CocoCOptions(config=config, dataset=dataset, corruptions="brightness", severities="1",
                               allow_partial=True, workers=0, threads=1, out=str(tmp_path / "out"),
                               opts=("INPUT.MIN_SIZE_TEST", "64", "INPUT.MAX_SIZE_TEST", "96"))
        return run_job(*prepare_coco_c(options))

    first = run()
    assert _cells_events(tmp_path / "out") == [{"evaluated": {"clean-0", "brightness-1"}}]
    assert len(reads) == len(names)
    run()  # unchanged: every cell reused, no image read to hash it
    assert _cells_events(tmp_path / "out") == [{"evaluated": {"clean-0", "brightness-1"},
                                                 "reused": {"clean-0", "brightness-1"}}]
    assert len(reads) == len(names)
    for name in names:  # all black now, under the same names and annotations
        with Image.open(images / name) as im:
            size = im.size
        Image.new("RGB", size).save(images / name)
    second = run()
    events = _cells_events(tmp_path / "out")
    assert len(events) == 2 and events[1] == {"evaluated": {"clean-0", "brightness-1"}}
    assert second.doc["dataset"]["images_sha256"] != first.doc["dataset"]["images_sha256"]


def test_ood_evaluates_an_image_replaced_in_place_with_the_same_size_and_time_again(tmp_path, capsys, reads,
                                                                                     counting):
    rng = np.random.default_rng(5)
    val = tmp_path / "val"
    for index in (0, 5):
        folder = val / imagenet_wnids()[index]
        folder.mkdir(parents=True)
        for i in range(2):  # BMP: the same size for the same dimensions, whatever the pixels
            Image.fromarray(rng.integers(0, 256, (36, 40, 3), dtype=np.uint8)).save(folder / f"im{i}.bmp")
    args = ["--model", TINY, "--out", str(tmp_path / "out"), "--dataset", f"imagenet={val}"]
    assert run_cli(args, capsys)[0] == 0
    assert run_cli(args, capsys)[0] == 0
    assert counting == ["imagenet"] and len(reads) == 4  # the rerun reused it, reading no image
    target = val / imagenet_wnids()[5] / "im1.bmp"
    black = tmp_path / "black.bmp"
    Image.new("RGB", (40, 36)).save(black)
    assert black.stat().st_size == target.stat().st_size
    replace_keeping_status(target, black.read_bytes())
    assert run_cli(args, capsys)[0] == 0
    assert counting == ["imagenet", "imagenet"] and reads[4:] == ["im1.bmp"]
