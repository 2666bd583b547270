"""merge_shards on shard folders written by hand (a manifest and its files each): what the merged
manifest holds, where the files end up, and each refusal's one line."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from fan_det.corruptions.manifest import SCHEMA, BuildError
from fan_det.corruptions.shards import merge_shards

SETTINGS = {"seed": 0, "format": "png"}
VERSIONS = {"imagecorruptions": "1.1.2"}


def write_shard(folder, index, count, images, skipped=None, settings=SETTINGS):
    """A shard folder: ``images`` maps image id to its file; each gets one fog/1 file of random bytes."""
    rng = np.random.default_rng(index + 10 * count)
    files = {}
    for file in images.values():
        rel = f"fog/1/{file}"
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(rng.integers(0, 256, 64, dtype=np.uint8).tobytes())
        files[rel] = hashlib.sha256((folder / rel).read_bytes()).hexdigest()
    records = {i: {"source": f"/src/{f}", "file": f, "sha256": f"h{i}"} for i, f in images.items()}
    manifest = {"schema": SCHEMA, "dataset": "d", "settings": settings, "versions": VERSIONS,
                "images": records, "files": files, "skipped": skipped or {}, "cells": [["fog", 1]],
                "shard": {"index": index, "count": count},
                "built": {"shard": f"{index}/{count}", "date": "d"}}
    (folder / f"manifest.shard-{index}-of-{count}.json").write_text(json.dumps(manifest))
    return manifest


def test_two_shard_folders_merge_into_a_new_nested_folder_by_hard_links(tmp_path):
    first = write_shard(tmp_path / "a", 0, 2, {"1": "x.png"}, skipped={"/src/bad.jpg": "unreadable"})
    second = write_shard(tmp_path / "b", 1, 2, {"2": "y.png"})
    out = tmp_path / "new" / "out"
    merged = merge_shards(out, [tmp_path / "a", tmp_path / "b"])
    assert json.loads(json.dumps(merged)) == json.loads((out / "manifest.json").read_text())
    assert merged["files"] == {**first["files"], **second["files"]}
    assert merged["images"] == {**first["images"], **second["images"]}
    assert merged["skipped"] == {"/src/bad.jpg": "unreadable"} and merged["cells"] == [("fog", 1)]
    assert merged["built"] == {"merged_from": ["0/2", "1/2"]} and "shard" not in merged
    for folder, rel in [("a", "fog/1/x.png"), ("b", "fog/1/y.png")]:
        assert (out / rel).stat().st_ino == (tmp_path / folder / rel).stat().st_ino
    assert sorted(p.name for p in out.glob("*.json")) == ["manifest.json"]
    assert (tmp_path / "a" / "manifest.shard-0-of-2.json").is_file()  # other folders are left as they are
    assert (tmp_path / "b" / "manifest.shard-1-of-2.json").is_file()


def test_the_output_folder_may_be_listed_first_among_the_merged_ones(tmp_path):
    write_shard(tmp_path / "out", 0, 2, {"1": "x.png"})
    write_shard(tmp_path / "b", 1, 2, {"2": "y.png"})
    merge_shards(tmp_path / "out", [tmp_path / "out", tmp_path / "b"])
    assert (tmp_path / "out" / "fog" / "1" / "y.png").read_bytes() == \
        (tmp_path / "b" / "fog" / "1" / "y.png").read_bytes()


def test_shards_built_in_the_output_folder_are_folded_and_their_shard_manifests_removed(tmp_path):
    write_shard(tmp_path / "out", 0, 2, {"1": "x.png"})
    write_shard(tmp_path / "out", 1, 2, {"2": "y.png"})
    before = {p.relative_to(tmp_path).as_posix(): p.stat().st_ino for p in (tmp_path / "out").rglob("*.png")}
    merged = merge_shards(tmp_path / "out", [])
    assert sorted(merged["files"]) == ["fog/1/x.png", "fog/1/y.png"]
    assert sorted(p.name for p in (tmp_path / "out").glob("*.json")) == ["manifest.json"]
    assert {p.relative_to(tmp_path).as_posix(): p.stat().st_ino
            for p in (tmp_path / "out").rglob("*.png")} == before


def test_a_merge_folder_that_is_not_one_is_refused(tmp_path):
    write_shard(tmp_path / "a", 0, 1, {"1": "x.png"})
    with pytest.raises(BuildError, match=rf"^--merge {tmp_path / 'nope'} is not a folder$"):
        merge_shards(tmp_path / "out", [tmp_path / "a", tmp_path / "nope"])


def test_nothing_to_merge_names_the_folders(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with pytest.raises(BuildError, match=rf"^no manifest or shard manifest in {tmp_path / 'a'}, "
                                         rf"{tmp_path / 'b'}: nothing to merge$"):
        merge_shards(tmp_path / "out", [tmp_path / "a", tmp_path / "b"])


@pytest.mark.parametrize("key", ["schema", "dataset", "settings", "versions"])
def test_shards_of_other_builds_are_refused_naming_what_differs(tmp_path, key):
    write_shard(tmp_path / "a", 0, 2, {"1": "x.png"})
    write_shard(tmp_path / "b", 1, 2, {"2": "y.png"})
    path = tmp_path / "b" / "manifest.shard-1-of-2.json"
    doc = json.loads(path.read_text())
    doc[key] = "fan_det.coco_c_manifest/1" if key == "schema" else {"other": 1}
    path.write_text(json.dumps(doc))
    if key == "schema":  # an old schema is refused when read, before any comparison
        with pytest.raises(BuildError, match="is not a fan_det.coco_c_manifest/2 manifest"):
            merge_shards(tmp_path / "out", [tmp_path / "a", tmp_path / "b"])
        return
    with pytest.raises(BuildError) as info:
        merge_shards(tmp_path / "out", [tmp_path / "a", tmp_path / "b"])
    first = tmp_path / "a" / "manifest.shard-0-of-2.json"
    assert str(info.value) == f"{path} has other {key} than {first}: these are not shards of one build"


@pytest.mark.parametrize("change", ["sha256", "file"])
def test_an_image_recorded_differently_by_two_shards_is_refused(tmp_path, change):
    write_shard(tmp_path / "a", 0, 2, {"1": "x.png"})
    write_shard(tmp_path / "b", 1, 2, {"2": "y.png"})
    path = tmp_path / "b" / "manifest.shard-1-of-2.json"
    doc = json.loads(path.read_text())
    doc["images"]["1"] = {"source": "/src/x.png", "file": "x.png", "sha256": "h1"}
    doc["images"]["1"][change] = "other"
    path.write_text(json.dumps(doc))
    first = tmp_path / "a" / "manifest.shard-0-of-2.json"
    with pytest.raises(BuildError) as info:
        merge_shards(tmp_path / "out", [tmp_path / "a", tmp_path / "b"])
    assert str(info.value) == (f"image 1 differs between {first} and {path} (other sources): rebuild one of "
                               "them from the same sources")


def test_missing_shards_are_each_named(tmp_path):
    write_shard(tmp_path / "a", 1, 4, {"1": "x.png"})
    with pytest.raises(BuildError, match=r"^shard\(s\) 0/4, 2/4, 3/4 missing: build them \(--shard K/4\)"):
        merge_shards(tmp_path / "out", [tmp_path / "a"])


def test_a_whole_build_merges_with_a_shard_of_another_folder(tmp_path):
    whole = write_shard(tmp_path / "a", 0, 1, {"1": "x.png"})
    path = tmp_path / "a" / "manifest.shard-0-of-1.json"
    del whole["shard"], whole["built"]  # a manifest need not say how it was built
    path.rename(tmp_path / "a" / "manifest.json")
    (tmp_path / "a" / "manifest.json").write_text(json.dumps(whole))
    write_shard(tmp_path / "b", 0, 1, {"2": "y.png"})
    merged = merge_shards(tmp_path / "out", [tmp_path / "a", tmp_path / "b"])
    assert sorted(merged["files"]) == ["fog/1/x.png", "fog/1/y.png"]
    assert merged["built"] == {"merged_from": ["0/1", "whole"]} and "shard" not in merged
