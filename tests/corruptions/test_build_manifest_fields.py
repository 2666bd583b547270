"""The fields a build writes into its manifest, each as the merge, ``--verify`` and the next build read
them: the cells asked for, a shard's plan, when and how it was built (workers and thread budget), with
the defaults a call without options gets; and an ``--out`` whose parents do not exist yet."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime

import pytest
from build_bar import RecordingBar

import fan_det.corruptions.builder as builder
from fan_det.corruptions import BuildError, build_coco_c, load_images


@pytest.fixture
def entries(small_coco):
    return load_images(str(small_coco[0]), small_coco[1], "png")[:2]


def test_a_whole_build_records_its_cells_and_how_it_was_built_with_the_defaults(entries, tmp_path):
    out = tmp_path / "new" / "nested" / "coco_c"  # no parent exists yet
    build_coco_c(entries, out, ("fog", "brightness"), (2, 1), threads=3, progress=False)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["cells"] == [["brightness", 1], ["brightness", 2], ["fog", 1], ["fog", 2]]
    assert "shard" not in manifest
    built = manifest["built"]
    assert sorted(built) == ["date", "shard", "threads", "workers"]
    assert datetime.fromisoformat(built["date"]).tzinfo is not None
    assert (built["workers"], built["shard"]) == (1, "whole")
    assert built["threads"] == {"total": 3, "workers": 0, "per_worker": 0, "main": 3}  # all in this process


def test_a_shard_records_its_plan(entries, tmp_path):
    out = tmp_path / "coco_c"
    build_coco_c(entries, out, ("fog", "brightness"), (3, 1), shard=(1, 3), progress=False)
    manifest = json.loads((out / "manifest.shard-1-of-3.json").read_text())
    assert manifest["shard"] == {"index": 1, "count": 3, "corruptions": ["fog", "brightness"],
                                 "severities": [3, 1]}
    assert manifest["built"]["shard"] == "1/3"


def test_by_default_a_bad_image_stops_the_build_and_progress_is_shown(entries, tmp_path, monkeypatch):
    RecordingBar.made = []
    monkeypatch.setattr(builder, "tqdm", RecordingBar)
    build_coco_c(entries, tmp_path / "good", ("fog",), (1,))
    assert [bar.kwargs["disable"] for bar in RecordingBar.made] == [False]
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(BuildError) as info:
        build_coco_c([dataclasses.replace(entries[0], source=str(bad))], tmp_path / "stopped", ("fog",), (1,))
    assert str(info.value) == (f"cannot read image {bad}: not an image file PIL can identify (rerun with "
                               "--skip-bad to skip it and record it as skipped)")


def test_the_planned_cells_are_on_disk_before_any_file_is(entries, tmp_path, monkeypatch):
    """So that a build killed before its first file is still seen as incomplete, cell by cell."""

    class Killed(Exception):
        pass

    def killed(*args):
        raise Killed

    monkeypatch.setattr(builder, "_write_pending", killed)
    out = tmp_path / "coco_c"
    with pytest.raises(Killed):
        build_coco_c(entries, out, ("fog",), (1, 2), progress=False)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["cells"] == [["fog", 1], ["fog", 2]] and manifest["files"] == {}


def test_a_recorded_file_deleted_since_is_forgotten_and_written_again(entries, tmp_path):
    out = tmp_path / "coco_c"
    build_coco_c(entries, out, ("fog",), (1,), progress=False)
    first = json.loads((out / "manifest.json").read_text())["files"]
    lost = f"fog/1/{entries[1].file}"
    (out / lost).unlink()
    report = build_coco_c(entries, out, ("fog",), (1,), progress=False)
    assert (report.written, report.reused) == (1, 1)
    assert json.loads((out / "manifest.json").read_text())["files"] == first
