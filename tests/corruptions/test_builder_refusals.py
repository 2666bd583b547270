"""A second build into a folder refuses what would mix two builds, each with its exact one line: every
setting that differs (old and new value), whether the folder holds a whole build's manifest or a shard's,
and an image now written under another file name."""

from __future__ import annotations

import dataclasses

import pytest

from fan_det.corruptions import BuildError, Settings, build_coco_c, load_images


@pytest.fixture
def first_build(small_coco, tmp_path):
    entries = load_images(str(small_coco[0]), small_coco[1], "png")[:2]
    out = tmp_path / "coco_c"
    build_coco_c(entries[:1], out, ("brightness",), (1,), progress=False)
    return entries, out


def test_every_differing_setting_is_named_with_both_values(first_build):
    entries, out = first_build
    other = Settings.make(seed=7, png_compress_level=3)
    with pytest.raises(BuildError) as info:
        build_coco_c(entries[:1], out, ("brightness",), (1,), settings=other, progress=False)
    assert str(info.value) == (f"{out} was built with other settings (seed 0 there, 7 now, "
                               "png_compress_level 1 there, 3 now): use another --out folder")


def test_an_image_under_another_file_name_is_refused_after_any_new_image(first_build):
    entries, out = first_build
    renamed = dataclasses.replace(entries[0], file="renamed.png")
    with pytest.raises(BuildError) as info:
        build_coco_c([entries[1], renamed], out, ("brightness",), (1,), progress=False)
    first = entries[0]
    assert str(info.value) == (f"image {first.image_id} was {first.file} in {out}, now renamed.png: "
                               "use another --out folder")


def test_a_shard_is_refused_by_the_whole_builds_manifest_and_a_whole_build_by_a_shards(first_build):
    entries, out = first_build
    with pytest.raises(BuildError) as info:
        build_coco_c(entries[:1], out, ("brightness",), (1,), settings=Settings.make(seed=7), shard=(0, 2),
                     progress=False)
    assert str(info.value) == (f"{out} was built with other settings (seed 0 there, 7 now): use another "
                               "--out folder")
    sharded = out.parent / "sharded"
    build_coco_c(entries[:1], sharded, ("brightness",), (1,), shard=(1, 2), progress=False)
    with pytest.raises(BuildError) as info:
        build_coco_c(entries[:1], sharded, ("brightness",), (1,), settings=Settings.make(seed=7),
                     progress=False)
    assert str(info.value) == (f"{sharded} was built with other settings (seed 0 there, 7 now): use another "
                               "--out folder")
