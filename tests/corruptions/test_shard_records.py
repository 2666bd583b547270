"""A shard records only its own files in its manifest, even in a folder a whole build already filled."""

from __future__ import annotations

import json

from fan_det.corruptions import build_coco_c, load_images


def test_shards_built_after_a_whole_build_each_record_their_own_files(small_coco, tmp_path):
    entries = load_images(str(small_coco[0]), small_coco[1], "png")[:2]
    out = tmp_path / "coco_c"
    build_coco_c(entries, out, ("brightness",), (1,), progress=False)
    whole = json.loads((out / "manifest.json").read_text())["files"]
    shards = []
    for k in range(2):
        build_coco_c(entries, out, ("brightness",), (1,), shard=(k, 2), progress=False)
        shards.append(json.loads((out / f"manifest.shard-{k}-of-2.json").read_text())["files"])
    assert len(whole) == 2 and all(len(files) == 1 for files in shards)
    assert {**shards[0], **shards[1]} == whole
