"""A finished build, whole or shard, leaves no journal: a journal left behind would be read by the next
build of the folder as its own unfinished work."""

from __future__ import annotations

from fan_det.corruptions import build_coco_c, load_images


def test_whole_and_shard_builds_leave_no_journal(small_coco, tmp_path):
    entries = load_images(str(small_coco[0]), small_coco[1], "png")[:2]
    for shard in (None, (0, 2), (1, 2)):
        out = tmp_path / f"out{shard}"
        build_coco_c(entries, out, ("brightness",), (1,), shard=shard, progress=False)
        assert any(out.rglob("*.png"))
        assert sorted(p.name for p in out.glob(".journal*")) == []
