"""A build's report of seconds per stage: each stage's time summed over an image's cells, never negative
nor beyond the build's wall time (corrupting, encoding and writing slowed by a known pause: a lower
bound)."""

from __future__ import annotations

import time

import fan_det.corruptions.builder as builder
from fan_det.corruptions import Settings, build_coco_c, load_images

PAUSE = 0.02


def test_stage_seconds_add_up_over_the_cells(small_coco, tmp_path, monkeypatch):
    entries = load_images(str(small_coco[0]), small_coco[1], "png")[:1]
    encode, write, corrupt = Settings.encode, builder.atomic_write_bytes, builder.corrupt

    def slow_encode(self, image):
        time.sleep(PAUSE)
        return encode(self, image)

    def slow_write(path, data):
        time.sleep(PAUSE)
        return write(path, data)

    def slow_corrupt(*args, **kwargs):
        time.sleep(PAUSE)
        return corrupt(*args, **kwargs)

    monkeypatch.setattr(Settings, "encode", slow_encode)
    monkeypatch.setattr(builder, "corrupt", slow_corrupt)
    monkeypatch.setattr(builder, "atomic_write_bytes", slow_write)
    start = time.perf_counter()
    report = build_coco_c(entries, tmp_path / "coco_c", ("brightness",), (1, 2, 3, 4), progress=False)
    wall = time.perf_counter() - start
    assert report.written == 4
    assert 4 * PAUSE <= report.seconds["encode"] <= wall and 4 * PAUSE <= report.seconds["write"] <= wall
    assert 4 * PAUSE <= report.seconds["corrupt"] <= wall and 0 < report.seconds["read"] <= wall
