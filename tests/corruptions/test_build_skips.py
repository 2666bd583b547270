"""What a build records as it goes, with ``--skip-bad`` and an image that cannot be read: one journal line
per file (its name and sha256) and per skipped image (its path and why), the same skip in the report and
the manifest, and a progress bar whose total drops by the skipped image's cells only."""

from __future__ import annotations

import dataclasses
import hashlib
import json

from build_bar import RecordingBar

import fan_det.corruptions.builder as builder
from fan_det.corruptions import build_coco_c, load_images
from fan_det.runtime.atomic import atomic_write_bytes


def test_the_journal_report_manifest_and_bar_of_a_build_with_a_skip(small_coco, tmp_path, monkeypatch):
    entries = load_images(str(small_coco[0]), small_coco[1], "png")[:3]
    missing = str(tmp_path / "gone.jpg")
    entries[1] = dataclasses.replace(entries[1], source=missing)
    out = tmp_path / "coco_c"
    journals = []
    write_final = builder._write_final

    def keep_journal(path, manifest):  # the journal as a kill before the final manifest would leave it
        journals.append((out / ".journal.jsonl").read_text())
        write_final(path, manifest)

    RecordingBar.made = []
    monkeypatch.setattr(builder, "_write_final", keep_journal)
    monkeypatch.setattr(builder, "tqdm", RecordingBar)
    report = build_coco_c(entries, out, ("brightness",), (1, 2), skip_bad=True)
    good = [entries[0].file, entries[2].file]
    names = [f"brightness/{s}/{f}" for f in good for s in (1, 2)]
    digests = {rel: hashlib.sha256((out / rel).read_bytes()).hexdigest() for rel in names}
    expected = [{"file": rel, "sha256": digests[rel]} for rel in names[:2]]
    expected.append({"skipped": missing, "reason": "file not found"})
    expected += [{"file": rel, "sha256": digests[rel]} for rel in names[2:]]
    assert journals[0].endswith("\n")
    assert [json.loads(line) for line in journals[0].splitlines()] == expected
    assert report.skipped == {missing: "file not found"}
    assert (report.written, report.reused) == (4, 0)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["skipped"] == {missing: "file not found"}
    assert manifest["files"] == digests
    (bar,) = RecordingBar.made
    assert bar.totals == [(2, 6), (0, 4), (2, 4)]  # 3 images x 2 cells; the skipped image's 2 taken off


def test_stage_seconds_and_files_written_add_up_over_the_images(small_coco, tmp_path, monkeypatch):
    entries = load_images(str(small_coco[0]), small_coco[1], "png")[:3]
    out = tmp_path / "coco_c"

    def processed(task):
        entry, cells, _, _ = task
        files = []
        for corruption, severity in cells:
            rel = f"{corruption}/{severity}/{entry.file}"
            atomic_write_bytes(out / rel, rel.encode())
            files.append((rel, hashlib.sha256(rel.encode()).hexdigest()))
        seconds = {"read": 0.5, "corrupt": 1.0 * len(cells), "encode": 0.25, "write": 2.0}
        return {"image_id": entry.image_id, "skipped": None, "files": files, "seconds": seconds}

    monkeypatch.setattr(builder, "_process_image", processed)
    report = build_coco_c(entries, out, ("fog",), (1, 2), progress=False)
    assert report.written == 6
    assert report.seconds == {"read": 1.5, "corrupt": 6.0, "encode": 0.75, "write": 6.0}
