"""What a build records in its manifest: the dataset it was given; a shard only its own files, even in a
folder a whole build already filled."""

from __future__ import annotations

import json

from fan_det.corruptions import build_coco_c, load_images


def test_the_dataset_and_then_each_shards_own_files_are_recorded(small_coco, tmp_path):
    entries = load_images(str(small_coco[0]), small_coco[1], "png")[:2]
    out = tmp_path / "coco_c"
    build_coco_c(entries, out, ("brightness",), (1,), dataset=str(small_coco[0]), progress=False)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["dataset"] == str(small_coco[0])
    whole = manifest["files"]
    shards = []
    for k in range(2):
        build_coco_c(entries, out, ("brightness",), (1,), shard=(k, 2), progress=False)
        shards.append(json.loads((out / f"manifest.shard-{k}-of-2.json").read_text())["files"])
    assert len(whole) == 2 and all(len(files) == 1 for files in shards)
    assert {**shards[0], **shards[1]} == whole
