"""A write that fails (full disk, file-size limit) stops the build with one line naming the file, the
reason and the fix, and leaves none of its temporary files; a journal another build of the folder removed
first is no error. tests/reliability/test_reliability_corruptions_writers.py stages a real size limit."""

from __future__ import annotations

import errno
import json
import os

import pytest

import fan_det.corruptions.builder as builder
from fan_det.corruptions import BuildError, build_coco_c, load_images
from fan_det.runtime.atomic import TMP_SUFFIX


def failing_write(error: OSError):
    """A writer that leaves its temporary file, as a write cut short does, then raises ``error``."""

    def write(path, data):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.with_name(f".{path.name}.{os.getpid()}{TMP_SUFFIX}").write_bytes(data[:10])
        raise error

    return write


@pytest.mark.parametrize(("error", "named"), [
    (OSError(errno.ENOSPC, "No space left on device", "/data/fog/1/x.png"), "/data/fog/1/x.png"),
    (OSError(errno.EFBIG, "File too large"), None),
])
def test_a_failed_write_is_one_line_and_leaves_no_temporary_file(small_coco, tmp_path, monkeypatch, error,
                                                                 named):
    entries = load_images(str(small_coco[0]), small_coco[1], "png")[:1]
    out = tmp_path / "coco_c"
    monkeypatch.setattr(builder, "atomic_write_bytes", failing_write(error))
    with pytest.raises(BuildError) as info:
        build_coco_c(entries, out, ("fog",), (1,), progress=False)
    assert str(info.value) == (
        f"cannot write {named or out}: {error.strerror}; free space or raise the file-size limit "
        "(ulimit -f), then rerun the same command to resume")
    assert sorted(p.name for p in out.rglob(f"*{TMP_SUFFIX}")) == []
    assert (out / "fog" / "1").is_dir()  # the failed write had reached the cell's folder


def test_an_error_without_a_reason_is_named_whole(small_coco, tmp_path, monkeypatch):
    entries = load_images(str(small_coco[0]), small_coco[1], "png")[:1]
    out = tmp_path / "coco_c"
    monkeypatch.setattr(builder, "atomic_write_bytes", failing_write(OSError("quota exceeded")))
    with pytest.raises(BuildError) as info:
        build_coco_c(entries, out, ("fog",), (1,), progress=False)
    assert str(info.value).startswith(f"cannot write {out}: quota exceeded; free space")


def test_a_journal_removed_by_another_build_meanwhile_is_no_error(small_coco, tmp_path, monkeypatch):
    entries = load_images(str(small_coco[0]), small_coco[1], "png")[:1]
    out = tmp_path / "coco_c"
    write_final = builder._write_final

    def other_build_finished_first(path, manifest):
        (out / ".journal.jsonl").unlink()
        write_final(path, manifest)

    monkeypatch.setattr(builder, "_write_final", other_build_finished_first)
    report = build_coco_c(entries, out, ("fog",), (1,), progress=False)
    assert report.written == 1 and (out / "fog" / "1" / entries[0].file).is_file()


def test_a_build_without_a_dataset_name_records_none(small_coco, tmp_path):
    entries = load_images(str(small_coco[0]), small_coco[1], "png")[:1]
    build_coco_c(entries, tmp_path / "c", ("fog",), (1,), progress=False)
    assert json.loads((tmp_path / "c" / "manifest.json").read_text())["dataset"] == ""
