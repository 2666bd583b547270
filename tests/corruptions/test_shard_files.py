"""How a merge brings a shard's file into the output folder: hard-linked (or copied when asked or across
file systems) through a temporary name, skipped when the target already holds the recorded bytes, and
refused when the source is missing or differs from its shard manifest."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from fan_det.corruptions.manifest import BuildError
from fan_det.corruptions.shards import _bring


@pytest.fixture
def shard_file(tmp_path):
    source = tmp_path / "shard" / "fog" / "1" / "a.png"
    source.parent.mkdir(parents=True)
    source.write_bytes(np.random.default_rng(5).integers(0, 256, 500, dtype=np.uint8).tobytes())
    return source, hashlib.sha256(source.read_bytes()).hexdigest()


def test_a_file_is_linked_into_new_folders_and_no_temporary_stays(tmp_path, shard_file):
    source, digest = shard_file
    target = tmp_path / "out" / "fog" / "1" / "a.png"
    _bring(source, target, digest, link=True)
    assert target.read_bytes() == source.read_bytes() and target.stat().st_ino == source.stat().st_ino
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.png"]


def test_asked_for_copies_it_copies(tmp_path, shard_file):
    source, digest = shard_file
    target = tmp_path / "out" / "fog" / "1" / "a.png"
    _bring(source, target, digest, link=False)
    assert target.read_bytes() == source.read_bytes() and target.stat().st_ino != source.stat().st_ino
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.png"]


def test_a_target_with_the_recorded_bytes_is_kept_and_a_stale_one_replaced(tmp_path, shard_file):
    source, digest = shard_file
    target = tmp_path / "out" / "a.png"
    target.parent.mkdir()
    target.write_bytes(source.read_bytes())
    kept = target.stat().st_ino
    _bring(source, target, digest, link=True)
    assert target.stat().st_ino == kept
    target.write_bytes(b"stale")
    _bring(source, target, digest, link=True)
    assert target.read_bytes() == source.read_bytes() and target.stat().st_ino == source.stat().st_ino


@pytest.mark.parametrize("damage", ["missing", "changed"])
def test_a_missing_or_changed_source_is_refused_naming_it(tmp_path, shard_file, damage):
    source, digest = shard_file
    if damage == "missing":
        source.unlink()
    else:
        source.write_bytes(b"other bytes")
    target = tmp_path / "out" / "a.png"
    with pytest.raises(BuildError) as info:
        _bring(source, target, digest, link=True)
    assert str(info.value) == f"{source} is missing or differs from its shard manifest: rebuild that shard"
    assert not target.exists()
