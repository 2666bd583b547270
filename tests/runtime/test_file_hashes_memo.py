"""The file-hash memo: keyed by each file's path inside the hashed folder (so any working directory
reuses it), and left untouched by a run that read nothing new."""

from __future__ import annotations

import hashlib
import json

import numpy as np

import fan_det.runtime.file_hashes as file_hashes_module
from fan_det.runtime.file_hashes import MEMO_DIR, content_sha256, file_hashes


def make_files(folder, count=3):
    rng = np.random.default_rng(11)
    folder.mkdir(parents=True)
    files = []
    for i in range(count):
        files.append(folder / "sub" / f"g{i}.bin" if i else folder / f"g{i}.bin")
        files[-1].parent.mkdir(exist_ok=True)
        files[-1].write_bytes(rng.integers(0, 256, 200, dtype=np.uint8).tobytes())
    return files


def count_reads(monkeypatch) -> list[str]:
    seen: list[str] = []
    real = file_hashes_module.sha256_file
    monkeypatch.setattr(file_hashes_module, "sha256_file", lambda path: seen.append(path) or real(path))
    return seen


def test_the_memo_is_keyed_by_the_path_inside_the_folder_from_any_working_directory(tmp_path, monkeypatch):
    files = make_files(tmp_path / "data")
    expected = [hashlib.sha256(f.read_bytes()).hexdigest() for f in files]
    monkeypatch.chdir(tmp_path)
    assert file_hashes(files, tmp_path / "memo") == expected
    (memo,) = (tmp_path / "memo" / MEMO_DIR).glob("*.json")
    assert sorted(json.loads(memo.read_text())) == ["g0.bin", "sub/g1.bin", "sub/g2.bin"]
    reads = count_reads(monkeypatch)
    monkeypatch.chdir(tmp_path / "data" / "sub")
    assert file_hashes(files, tmp_path / "memo") == expected and reads == []


def test_a_run_that_read_nothing_new_leaves_the_memo_file_alone(tmp_path):
    files = make_files(tmp_path / "data")
    file_hashes(files, tmp_path / "memo")
    (memo,) = (tmp_path / "memo" / MEMO_DIR).glob("*.json")
    before = memo.stat()
    file_hashes(files, tmp_path / "memo")
    after = memo.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_a_memo_that_is_not_an_object_is_ignored_and_replaced(tmp_path):
    files = make_files(tmp_path / "data")
    file_hashes(files, tmp_path / "memo")
    (memo,) = (tmp_path / "memo" / MEMO_DIR).glob("*.json")
    memo.write_text("[1, 2]")
    expected = [hashlib.sha256(f.read_bytes()).hexdigest() for f in files]
    assert file_hashes(files, tmp_path / "memo") == expected
    assert sorted(json.loads(memo.read_text())) == ["g0.bin", "sub/g1.bin", "sub/g2.bin"]


def test_a_file_that_cannot_be_read_hashes_to_none_and_is_not_memoised(tmp_path):
    files = make_files(tmp_path / "data", count=2)
    gone = tmp_path / "data" / "gone.bin"
    hashes = file_hashes([files[0], gone, files[1]], tmp_path / "memo")
    assert hashes == [hashlib.sha256(files[0].read_bytes()).hexdigest(), None,
                      hashlib.sha256(files[1].read_bytes()).hexdigest()]
    memo = json.loads(next((tmp_path / "memo" / MEMO_DIR).iterdir()).read_text())
    assert sorted(memo) == ["g0.bin", "sub/g1.bin"]


def test_the_content_hash_is_the_hash_of_the_files_hashes_in_order(tmp_path):
    files = make_files(tmp_path / "data", count=2)
    digests = [hashlib.sha256(f.read_bytes()).hexdigest() for f in files]
    canonical = json.dumps(digests, sort_keys=True, default=str).encode()
    assert content_sha256(files, tmp_path / "memo") == hashlib.sha256(canonical).hexdigest()
    assert (tmp_path / "memo" / MEMO_DIR).is_dir()
    assert content_sha256(files[::-1], tmp_path / "memo") != content_sha256(files, tmp_path / "memo")
