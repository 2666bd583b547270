"""What a build shows while it writes: one "COCO-C" bar counting images written out of those pending,
smoothed over the recent rate, and none with progress off."""

from __future__ import annotations

from build_bar import RecordingBar

import fan_det.corruptions.builder as builder
from fan_det.corruptions import build_coco_c, load_images


def test_the_bar_counts_the_files_written_out_of_those_pending(small_coco, tmp_path, monkeypatch):
    RecordingBar.made = []
    monkeypatch.setattr(builder, "tqdm", RecordingBar)
    entries = load_images(str(small_coco[0]), small_coco[1], "png")[:2]
    build_coco_c(entries, tmp_path / "shown", ("brightness",), (1, 2), progress=True)
    build_coco_c(entries, tmp_path / "quiet", ("brightness",), (3,), progress=False)
    shown, quiet = RecordingBar.made
    assert shown.kwargs == {"total": 4, "unit": "img", "desc": "COCO-C", "disable": False, "smoothing": 0.1}
    assert shown.updates == [2, 2]  # each image's two cells as they land
    assert quiet.kwargs == {"total": 2, "unit": "img", "desc": "COCO-C", "disable": True, "smoothing": 0.1}
