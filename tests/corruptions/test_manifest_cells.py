"""Which files a COCO-C folder lacks, on a hand-written manifest: the planned cells (recorded, else those
with a file), or the cells asked for; skipped images have none; a file recorded but deleted is missing."""

from __future__ import annotations

from fan_det.corruptions.manifest import missing_files, planned_cells


def manifest(**extra) -> dict:
    images = {str(i): {"source": f"src/{n}.jpg", "file": f"{n}.png"} for i, n in enumerate("abc", 1)}
    return {"images": images,
            "skipped": {"src/c.jpg": "unreadable"},
            "files": {"fog/1/a.png": "h1", "fog/1/b.png": "h2", "fog/2/a.png": "h3"}, **extra}


def on_disk(root, *rels):
    for rel in rels:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"x")


def test_the_planned_cells_are_the_recorded_ones_else_those_with_a_file():
    cells = [["snow", 3], ["fog", 1], ["snow", "3"]]
    assert planned_cells(manifest(cells=cells)) == [("fog", 1), ("snow", 3)]
    assert planned_cells(manifest()) == [("fog", 1), ("fog", 2)]
    nested = {"files": {"fog/1/val/a.png": "h", "snow/5/a.png": "h"}}
    assert planned_cells(nested) == [("fog", 1), ("snow", 5)]


def test_missing_files_of_the_planned_cells(tmp_path):
    on_disk(tmp_path, "fog/1/a.png", "fog/2/a.png")  # fog/1/b.png recorded, then deleted
    assert missing_files(tmp_path, manifest()) == ["fog/1/b.png", "fog/2/b.png"]
    planned = manifest(cells=[["fog", 1], ["snow", 3]])
    assert missing_files(tmp_path, planned) == ["fog/1/b.png", "snow/3/a.png", "snow/3/b.png"]


def test_missing_files_of_the_cells_asked_for(tmp_path):
    on_disk(tmp_path, "fog/1/a.png", "fog/1/b.png", "snow/2/a.png")  # snow/2/a.png on disk, not recorded
    planned = manifest(cells=[["fog", 1], ["fog", 2]])
    assert missing_files(tmp_path, planned, [("fog", 1)]) == []
    assert missing_files(tmp_path, planned, [("snow", 2)]) == ["snow/2/a.png", "snow/2/b.png"]
    assert missing_files(tmp_path, planned, []) == []
