"""What hashing a dataset shows and where its memo lives: a progress bar named by the caller for sets of
1,000 files or more (none for fewer: a bar that flashes by says nothing), and one memo file per folder,
named by the folder's path hash, written on one line."""

from __future__ import annotations

import hashlib
import os

import pytest

from fan_det.runtime import file_hashes as fh


class RecordingBar:
    """Stands in for tqdm: records how the bar was asked for and yields the files unchanged."""

    calls: list[dict] = []

    def __init__(self, iterable, **kwargs):
        self.iterable = iterable
        RecordingBar.calls.append(kwargs)

    def __iter__(self):
        return iter(self.iterable)


@pytest.fixture
def bars(monkeypatch):
    RecordingBar.calls = []
    monkeypatch.setattr(fh, "tqdm", RecordingBar)
    return RecordingBar.calls


def _files(folder, n: int) -> list[str]:
    folder.mkdir()
    paths = [folder / f"{i:04d}.bin" for i in range(n)]
    for i, path in enumerate(paths):
        path.write_bytes(i.to_bytes(2, "little"))
    return [str(p) for p in paths]


def test_a_thousand_files_show_the_callers_bar_and_fewer_show_none(tmp_path, bars):
    many = _files(tmp_path / "many", 1000)
    few = many[:999]
    fh.file_hashes(many, tmp_path / "memo", desc="hash COCO-O images")
    fh.content_sha256(few, tmp_path / "memo2", desc="hash ACDC images")
    fh.content_sha256(few[:3], tmp_path / "memo3")
    fh.file_hashes(few[:2], tmp_path / "memo4")
    assert bars == [
        {"desc": "hash COCO-O images", "unit": "file", "leave": False, "disable": False},
        {"desc": "hash ACDC images", "unit": "file", "leave": False, "disable": True},
        {"desc": "hash images", "unit": "file", "leave": False, "disable": True},
        {"desc": "hash images", "unit": "file", "leave": False, "disable": True},
    ]


def test_the_memo_is_one_line_named_by_the_folders_path_hash(tmp_path):
    paths = _files(tmp_path / "images", 3)
    fh.file_hashes(paths, tmp_path / "memo")
    folder = os.path.commonpath([os.path.abspath(p) for p in paths])
    name = hashlib.sha256(folder.encode()).hexdigest()[:16] + ".json"
    assert [p.name for p in (tmp_path / "memo" / "file_hashes").iterdir()] == [name]
    text = (tmp_path / "memo" / "file_hashes" / name).read_text()
    assert "\n" not in text.strip() and '"0000.bin": [' in text
