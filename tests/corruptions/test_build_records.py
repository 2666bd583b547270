"""What a build records in its manifest: the dataset it was given, whole or which shard; a shard only its
own files, even in a folder a whole build already filled; after a kill, what the journal says; the
libraries' versions."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from importlib import metadata
from pathlib import Path

import pytest

import fan_det.corruptions.builder as builder
from fan_det.corruptions import build_coco_c, load_images
from fan_det.corruptions.builder import library_versions


def test_the_dataset_and_then_each_shards_own_files_are_recorded(small_coco, tmp_path):
    entries = load_images(str(small_coco[0]), small_coco[1], "png")[:2]
    out = tmp_path / "coco_c"
    build_coco_c(entries, out, ("brightness",), (1,), dataset=str(small_coco[0]), progress=False)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["dataset"] == str(small_coco[0]) and manifest["built"]["shard"] == "whole"
    whole = manifest["files"]
    shards = []
    for k in range(2):
        build_coco_c(entries, out, ("brightness",), (1,), shard=(k, 2), progress=False)
        shard = json.loads((out / f"manifest.shard-{k}-of-2.json").read_text())
        assert shard["built"]["shard"] == f"{k}/2"
        shards.append(shard["files"])
    assert len(whole) == 2 and all(len(files) == 1 for files in shards)
    assert {**shards[0], **shards[1]} == whole


@pytest.mark.parametrize("shard", [None, (0, 1)])
def test_a_rerun_takes_the_journals_records_and_keeps_a_gone_sources_hash(small_coco, tmp_path, shard):
    """As if killed after journalling a file and a skip: the rerun (of the first image only, whose source
    is gone since) records the file's hash from the journal, not from the bytes now on disk, keeps the
    skip of the image it was not given and the source hash recorded before."""
    entries = load_images(str(small_coco[0]), small_coco[1], "png")[:2]
    out = tmp_path / "coco_c"
    first = entries[0]
    source = tmp_path / "source.jpg"
    source.write_bytes(Path(first.source).read_bytes())
    entry = dataclasses.replace(first, source=str(source))
    build_coco_c([entry], out, ("brightness",), (1,), shard=shard, progress=False)
    name = "manifest.json" if shard is None else "manifest.shard-0-of-1.json"
    manifest = json.loads((out / name).read_text())
    rel = f"brightness/1/{entry.file}"
    made = manifest["files"].pop(rel)
    (out / name).write_text(json.dumps(manifest))
    journal = ".journal.jsonl" if shard is None else ".journal.shard-0-of-1.jsonl"
    (out / journal).write_text(json.dumps({"file": rel, "sha256": made}) + "\n" +
                               json.dumps({"skipped": entries[1].source, "reason": "truncated"}) + "\n")
    (out / rel).write_bytes(b"changed since")
    source.unlink()
    build_coco_c([entry], out, ("brightness",), (1,), shard=shard, progress=False)
    manifest = json.loads((out / name).read_text())
    assert manifest["files"] == {rel: made}
    assert manifest["skipped"] == {entries[1].source: "truncated"}
    assert manifest["images"][str(entry.image_id)]["sha256"] == hashlib.sha256(
        Path(first.source).read_bytes()).hexdigest()


def test_the_versions_recorded_are_those_of_every_library_that_can_change_a_byte():
    versions = library_versions()
    assert sorted(versions) == ["Pillow", "imagecorruptions", "numba", "numpy", "opencv", "scikit-image",
                                "scipy"]
    for name in ("Pillow", "numba", "numpy", "scikit-image", "scipy"):
        assert versions[name] == metadata.version(name)
    assert versions["opencv"] is not None


def test_without_an_opencv_distribution_its_version_is_none(monkeypatch):
    """(cv2 may come from elsewhere, a system package say.)"""
    monkeypatch.setattr(builder, "package_version", lambda name: None if name.startswith("opencv") else "1.0")
    assert library_versions()["opencv"] is None and library_versions()["numpy"] == "1.0"
