"""Sharded builds (--shard K/N, torchrun ranks) give the same files and manifest as one machine."""

import json
import os
import socket
import subprocess
import sys
from collections import Counter

import pytest

from fan_det.build_coco_c import main
from fan_det.corruptions import build_coco_c, load_images, merge_shards, parse_severities, resolve_corruptions
from fan_det.corruptions.manifest import MANIFEST
from fan_det.corruptions.shards import assign, parse_shard, shard_from_env

CORRUPTIONS, SEVERITIES = "brightness,contrast", "1,3"


def command(json_path, image_root, out, *extra):
    return [sys.executable, "-m", "fan_det.build_coco_c", "--dataset", str(json_path), "--image-root",
            str(image_root), "--out", str(out), "--corruptions", CORRUPTIONS, "--severities", SEVERITIES,
            "--no-progress", *extra]


def build_here(small_coco, out, shard=None):
    entries = load_images(str(small_coco[0]), small_coco[1], "png")
    build_coco_c(entries, out, resolve_corruptions(CORRUPTIONS), parse_severities(SEVERITIES),
                 dataset=str(small_coco[0]), progress=False, shard=shard)


def files_of(out):
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*.png"))}


def manifest_of(out):
    manifest = json.loads((out / MANIFEST).read_text())
    manifest.pop("built")  # date, workers, threads, shards: how it was made, not what
    return manifest


@pytest.fixture(scope="module")
def single(small_coco, tmp_path_factory):
    out = tmp_path_factory.mktemp("single") / "coco_c"
    build_here(small_coco, out)
    assert len(files_of(out)) == 4 * 2 * 2
    return out


def test_two_shards_in_two_folders_merged_equal_one_build(small_coco, single, tmp_path):
    shards = [tmp_path / f"shard{k}" for k in range(2)]
    running = [subprocess.Popen(command(*small_coco, shards[k], "--shard", f"{k}/2"),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE) for k in range(2)]
    for process in running:
        assert process.wait() == 0, process.stderr.read()
    parts = [files_of(s) for s in shards]
    assert parts[0] and parts[1] and not set(parts[0]) & set(parts[1])
    assert not (shards[0] / MANIFEST).exists()  # a shard alone is not a finished COCO-C
    merged = tmp_path / "merged"
    assert main(["--out", str(merged), "--merge", *map(str, shards)]) == 0
    assert files_of(merged) == files_of(single)
    assert manifest_of(merged) == manifest_of(single)


def test_shards_one_after_another_into_one_folder_equal_one_build(small_coco, single, tmp_path):
    out = tmp_path / "shared"
    for k in (1, 0, 2):
        build_here(small_coco, out, (k, 3))
    merge_shards(out, [out])
    assert files_of(out) == files_of(single) and manifest_of(out) == manifest_of(single)
    assert not list(out.glob("manifest.shard-*"))


def test_merge_refuses_a_missing_shard(small_coco, tmp_path, capsys):
    out = tmp_path / "partial"
    build_here(small_coco, out, (0, 2))
    assert main(["--out", str(out), "--merge", str(out)]) == 2
    assert capsys.readouterr().err.startswith("error: shard(s) 1/2 missing")
    assert not (out / MANIFEST).exists()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_torchrun_ranks_into_one_folder_equal_one_build(small_coco, single, tmp_path):
    out = tmp_path / "ranks"
    port = str(free_port())
    running = []
    for rank in range(2):
        env = {**os.environ, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": "2",
               "LOCAL_WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port}
        running.append(subprocess.Popen(command(*small_coco, out), env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True))
    outputs = [p.communicate(timeout=600) for p in running]
    assert [p.returncode for p in running] == [0, 0], outputs
    assert "merged 2 shards" in outputs[0][0]
    assert files_of(out) == files_of(single) and manifest_of(out) == manifest_of(single)


def test_split_is_balanced_by_cost_and_the_same_everywhere():
    names = ("glass_blur", "fog", "zoom_blur", "snow", "frost")
    units = [(f"im{i}.png", c, 5) for i in range(7) for c in names]
    cost = {"glass_blur": 50, "zoom_blur": 50}  # ~10x the others, x 5 severities
    for count in (2, 3, 4):
        owner = assign(units, count)
        assert owner == assign(list(reversed(units)), count)[::-1]  # order of the plan does not matter
        loads = Counter()
        for unit, k in zip(units, owner, strict=True):
            loads[k] += cost.get(unit[1], 5)
        assert set(loads) == set(range(count))
        assert max(loads.values()) - min(loads.values()) <= 50


def test_shard_specs():
    assert parse_shard("1/4") == (1, 4)
    for bad in ("4/4", "-1/2", "1", "a/b", "0/0"):
        with pytest.raises(ValueError):
            parse_shard(bad)
    assert shard_from_env({"RANK": "1", "WORLD_SIZE": "3"}) == (1, 3)
    assert shard_from_env({"RANK": "0", "WORLD_SIZE": "1"}) is None and shard_from_env({}) is None
