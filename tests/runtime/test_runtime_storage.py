"""The runtime layer's promises, each pinned: atomic writes (old file or whole new one, strict JSON),
content hashes (against hashlib and published digests), the keyed cache (key = hash of its components,
unreadable entries recomputed with a warning, a log of what was done) and provenance."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
import torch

from fan_det.runtime import atomic, provenance
from fan_det.runtime.atomic import atomic_write_bytes, atomic_write_json, atomic_write_text
from fan_det.runtime.cache import KeyedCache
from fan_det.runtime.hashing import sha256_bytes, sha256_file, sha256_json, sha256_state_dict

ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"  # SHA-256("abc"), FIPS 180-2


def test_atomic_write_replaces_the_file_whole_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "new" / "deeper" / "file.bin"
    payload = np.random.default_rng(0).bytes(5000)
    assert atomic_write_bytes(path, payload) == path
    assert path.read_bytes() == payload
    atomic_write_bytes(path, b"second")
    assert path.read_bytes() == b"second"
    assert sorted(p.name for p in path.parent.iterdir()) == ["file.bin"]


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "file.txt"
    path.write_text("old")

    def refuse(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(path, "new")
    assert path.read_text() == "old"


@pytest.mark.parametrize("fsync", [True, False])
def test_fsync_only_when_asked(tmp_path, monkeypatch, fsync):
    calls = []
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: calls.append(fd))
    atomic_write_bytes(tmp_path / "f", b"x" * 10, fsync=fsync)
    assert len(calls) == (1 if fsync else 0)
    assert (tmp_path / "f").read_bytes() == b"x" * 10


def test_text_is_utf8_and_json_is_strict_plain_and_indented(tmp_path):
    atomic_write_text(tmp_path / "t", "naïve ✓")
    assert (tmp_path / "t").read_bytes() == "naïve ✓".encode()
    obj = {"a": np.float32(0.5), "b": (1, np.int64(2)), "c": {"d": [np.float64(1.25)]}, "e": "x"}
    atomic_write_json(tmp_path / "j.json", obj)
    text = (tmp_path / "j.json").read_text()
    assert text == json.dumps({"a": 0.5, "b": [1, 2], "c": {"d": [1.25]}, "e": "x"}, indent=1) + "\n"
    atomic_write_json(tmp_path / "k.json", [1, 2], indent=None)
    assert (tmp_path / "k.json").read_text() == "[1, 2]\n"
    arr = np.arange(3)  # an array is not a scalar: left as is, so JSON refuses it
    with pytest.raises(TypeError):
        atomic_write_json(tmp_path / "a.json", {"x": arr})
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError):
            atomic_write_json(tmp_path / "bad.json", {"x": bad})
    assert not (tmp_path / "bad.json").exists()


def test_hashes_against_hashlib_and_a_published_digest(tmp_path):
    assert sha256_bytes(b"abc") == ABC
    big = np.random.default_rng(1).bytes(3 * (1 << 20) + 123)  # several 1 MiB chunks and a remainder
    (tmp_path / "big").write_bytes(big)
    assert sha256_file(tmp_path / "big") == hashlib.sha256(big).hexdigest()
    (tmp_path / "abc").write_bytes(b"abc")
    assert sha256_file(tmp_path / "abc") == ABC
    canonical = '{"a": [1, 2], "b": "p/q"}'
    assert sha256_json({"b": Path("p/q"), "a": [1, 2]}) == hashlib.sha256(canonical.encode()).hexdigest()


def test_state_dict_hash_covers_names_dtypes_shapes_and_values():
    rng = torch.Generator().manual_seed(0)
    weights = {"w": torch.randn(3, 4, generator=rng), "b": torch.randn(4, generator=rng)}
    expected = hashlib.sha256()
    for name in ("b", "w"):
        tensor = weights[name]
        expected.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        expected.update(tensor.numpy().tobytes())
    assert sha256_state_dict(weights) == expected.hexdigest()
    assert sha256_state_dict(dict(reversed(weights.items()))) == expected.hexdigest()
    changed = [{**weights, "w": weights["w"].clone().index_put_((torch.tensor(0),), torch.tensor(9.0))},
               {**weights, "w": weights["w"].double()}, {**weights, "w": weights["w"].reshape(4, 3)},
               {"w2": weights["w"], "b": weights["b"]}]
    assert len({sha256_state_dict(w) for w in changed} | {expected.hexdigest()}) == 5
    # a non-contiguous view hashes as its values
    assert sha256_state_dict({"w": weights["w"].t()}) == sha256_state_dict({"w": weights["w"].t().clone()})


def test_cache_key_is_the_hash_of_its_components_which_it_records(tmp_path):
    components = {"model": "m", "cell": ["fog", 3], "seed": 7}
    cache = KeyedCache(tmp_path, components)
    canonical = '{"cell": ["fog", 3], "model": "m", "seed": 7}'
    assert cache.key == hashlib.sha256(canonical.encode()).hexdigest()[:16]
    assert cache.dir == tmp_path / cache.key and cache.path("x.json") == cache.dir / "x.json"
    assert json.loads((cache.dir / "key.json").read_text()) == components
    (cache.dir / "key.json").write_text('{"kept": true}')  # an existing key file is never rewritten
    KeyedCache(tmp_path, components)
    assert (cache.dir / "key.json").read_text() == '{"kept": true}'
    assert KeyedCache(tmp_path, {**components, "seed": 8}).key != cache.key


def test_cache_entries_round_trip_and_unreadable_ones_are_recomputed_with_a_warning(tmp_path, capsys):
    cache = KeyedCache(tmp_path, {"k": 1})
    assert cache.load_json("a.json") is None and capsys.readouterr().err == ""
    cache.save_json("a.json", {"AP": np.float64(12.5)})
    assert cache.load_json("a.json") == {"AP": 12.5}
    cache.save_bytes("b.bin", b"\x00\x01")
    assert cache.load("b.bin", bytes) == b"\x00\x01"
    for name, content in (("c.json", b'{"AP": 1'), ("d.json", b"[1, 2]")):
        cache.path(name).write_bytes(content)
        assert cache.load_json(name) is None
        err = capsys.readouterr().err
        assert err.startswith(f"warning: cache entry {cache.path(name)} is unreadable")
        assert "recomputing" in err
    assert "not a JSON object" in (cache.load_json("d.json"), capsys.readouterr().err)[1]


def test_cache_log_records_each_event_in_order(tmp_path):
    cache = KeyedCache(tmp_path, {"k": 2})
    assert cache.read_log() == []
    cache.log("evaluated", "fog/3")
    cache.log("reused", {"cell": "clean/0"})
    log = cache.read_log()
    events = [("evaluated", "fog/3"), ("reused", {"cell": "clean/0"})]
    assert [(e["event"], e["entry"]) for e in log] == events
    assert {e["pid"] for e in log} == {os.getpid()}
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", e["time"]) for e in log)


def test_provenance_records_versions_command_machine_and_date(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["x.py", "--out", "a b"])
    assert provenance.command_line("fan_det.eval_ood") == "python -m fan_det.eval_ood --out 'a b'"
    assert provenance.command_line() == f"{os.path.basename(sys.executable)} --out 'a b'"
    assert provenance.package_version("numpy") == np.__version__
    assert provenance.package_version("no-such-distribution-fan-det") is None
    record = provenance.provenance(extra_key=3)
    assert record["numpy"] == np.__version__ and record["torch"] == metadata.version("torch")
    assert record["python"] == platform.python_version() and record["extra_key"] == 3
    assert record["command"] == f"{os.path.basename(sys.executable)} --out 'a b'"
    assert provenance.provenance("given")["command"] == "given"
    assert record["machine"] == provenance.machine()
    assert f"{platform.machine()}, {os.cpu_count()} CPU cores" in record["machine"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", record["date"])


def test_absent_packages_are_left_out_and_a_missing_corruption_library_is_named(monkeypatch):
    versions = {"imagecorruptions": "1.1.2", "numpy": "9"}
    monkeypatch.setattr(provenance, "package_version", versions.get)
    assert provenance.corruption_library_version() == "1.1.2"  # the original when the fork is absent
    record = provenance.provenance("c")
    assert record["numpy"] == "9" and record["imagecorruptions"] == "1.1.2" and "torch" not in record
    monkeypatch.setattr(provenance, "package_version", {"imagecorruptions-imaug": "2.0",
                                                         "imagecorruptions": "1.0"}.get)
    assert provenance.corruption_library_version() == "2.0"  # the maintained fork first
    monkeypatch.setattr(provenance, "package_version", {}.get)
    with pytest.raises(RuntimeError, match="pip install imagecorruptions-imaug"):
        provenance.corruption_library_version()
    assert "imagecorruptions" not in provenance.provenance("c")


def test_cache_entries_and_json_files_are_synced_to_disk(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: calls.append(fd))
    atomic_write_json(tmp_path / "a.json", {"x": 1}, fsync=True)
    assert len(calls) == 1
    cache = KeyedCache(tmp_path / "not" / "yet" / "there", {"k": 3})  # the root is created
    calls.clear()
    cache.save_json("b.json", {"x": 2})
    cache.save_bytes("c.bin", b"\x02")
    assert len(calls) == 2


def test_unreadable_entry_warnings_name_the_error(tmp_path, capsys):
    cache = KeyedCache(tmp_path, {"k": 4})
    cache.path("a.json").write_bytes(b"[1]")
    cache.load_json("a.json")
    assert capsys.readouterr().err == (f"warning: cache entry {cache.path('a.json')} is unreadable "
                                       "(ValueError: not a JSON object); recomputing it\n")
    cache.path("b.json").write_bytes(b"{")
    cache.load_json("b.json")
    assert capsys.readouterr().err.startswith(f"warning: cache entry {cache.path('b.json')} is unreadable "
                                              "(JSONDecodeError: ")


def test_machine_names_the_gpus_or_says_there_is_none(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cores = f"{os.cpu_count()} CPU cores"
    assert provenance.machine() == f"{platform.system()} {platform.machine()}, {cores}, no GPU"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index: f"Card{index}")
    assert provenance.machine().endswith(f"{cores}, 2 x Card0")


def test_a_missing_corruption_library_is_refused_with_the_install_command(monkeypatch):
    monkeypatch.setattr(provenance, "package_version", {}.get)
    with pytest.raises(RuntimeError) as info:
        provenance.corruption_library_version()
    assert str(info.value) == "imagecorruptions is not installed (pip install imagecorruptions-imaug)"


def test_writes_sync_only_when_asked(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: calls.append(fd))
    atomic.atomic_write_bytes(tmp_path / "a", b"1")
    atomic.atomic_write_text(tmp_path / "b", "2")
    atomic.atomic_write_json(tmp_path / "c", [3])
    assert calls == []
    atomic.atomic_write_text(tmp_path / "d", "4", fsync=True)
    assert len(calls) == 1


def test_a_temporary_file_that_cannot_be_created_is_an_os_error_naming_the_target(tmp_path, monkeypatch):
    def refused(path, mode):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(atomic, "open", refused, raising=False)  # as in a read-only folder
    target = tmp_path / "out" / "r.json"
    with pytest.raises(PermissionError) as info:
        atomic_write_bytes(target, b"x")
    error = info.value
    assert (error.errno, error.strerror, error.filename) == (13, "Permission denied", str(target))
    assert str(info.value) == f"[Errno 13] Permission denied: '{target}'"
    assert list((tmp_path / "out").iterdir()) == []
