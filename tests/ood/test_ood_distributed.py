"""Data-parallel evaluation counts every image exactly once, whatever the world size."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from detectron2.data.samplers import InferenceSampler
from detectron2.engine import launch
from detectron2.utils import comm
from ood_helpers import TinyClassifier

from fan_det.ood.distributed import merge_shards
from fan_det.ood.evaluate import evaluate
from fan_det.ood.image_folders import ClassImageFolder
from fan_det.ood.preprocess import build_transform
from fan_det.ood.synsets import subset_indices, subset_wnids
from fan_det.paths import REPO_ROOT
from fan_det.results import OODResult

SMALL = {"input_size": [3, 32, 32], "crop_pct": 1.0, "interpolation": "bilinear", "mean": [0.5] * 3,
         "std": [0.5] * 3, "crop_mode": "center"}


@pytest.mark.parametrize("world", [1, 2, 3])
@pytest.mark.parametrize("n", [1, 2, 7, 20])
def test_shards_are_an_exact_partition(n, world, monkeypatch):
    # detectron2's InferenceSampler, as evaluate uses it: the shards of every rank of a world
    monkeypatch.setattr(comm, "get_world_size", lambda: world)
    shards = []
    for rank in range(world):
        monkeypatch.setattr(comm, "get_rank", lambda rank=rank: rank)
        shards.append(list(InferenceSampler(n)))
    flat = [i for s in shards for i in s]
    assert sorted(flat) == list(range(n))  # nothing dropped, nothing duplicated, no padding
    assert max(len(s) for s in shards) - min(len(s) for s in shards) <= 1


def test_merge_checks_coverage():
    parts = [{"index": np.array([1, 3]), "top1": np.array([True, False])},
             {"index": np.array([0, 2]), "top1": np.array([False, True])}]
    merged = merge_shards(parts, 5, skipped=[4])
    assert merged["index"].tolist() == [0, 1, 2, 3] and merged["top1"].tolist() == [False, True, True, False]
    with pytest.raises(RuntimeError, match="1 missing"):
        merge_shards(parts, 5)
    with pytest.raises(RuntimeError, match="duplicated"):
        merge_shards(parts + [{"index": np.array([2]), "top1": np.array([True])}], 4)


def _rank_main(root, out_file):
    torch.set_num_threads(1)
    assert comm.get_world_size() == 2
    ds = ClassImageFolder(root, build_transform(SMALL), allowed=subset_wnids("imagenet-r"))
    out = evaluate(TinyClassifier(), ds, subsets={"imagenet-r": subset_indices("imagenet-r")}, batch_size=2,
                   workers=0)
    if comm.is_main_process():
        np.savez(out_file, **{k.replace("/", "|"): v for k, v in out.arrays.items()})


def test_two_gloo_processes_equal_one(ood_sets, tmp_path):
    root = ood_sets["imagenet-r"]  # 7 images: an uneven 4/3 split
    launch(_rank_main, 2, dist_url="auto", args=(root, tmp_path / "two.npz"))
    ds = ClassImageFolder(root, build_transform(SMALL), allowed=subset_wnids("imagenet-r"))
    one = evaluate(TinyClassifier(), ds, subsets={"imagenet-r": subset_indices("imagenet-r")}, batch_size=3,
                   workers=0)
    with np.load(tmp_path / "two.npz") as two:
        assert two["index"].tolist() == list(range(7))
        assert set(k.replace("|", "/") for k in two.files) == set(one.arrays)
        for k, v in one.arrays.items():
            if k.endswith("confidence"):
                np.testing.assert_allclose(two[k.replace("/", "|")], v, rtol=1e-5)
            else:
                np.testing.assert_array_equal(two[k.replace("/", "|")], v)


TINY_ARGS = ["--model", "fan_det.zoo.tiny_random:build", "--device", "cpu", "--workers", "0",
             "--batch-size", "3"]
TORCHRUN = ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]


@pytest.mark.parametrize("launcher", ["num-gpus", "torchrun"])
def test_two_processes_through_the_cli_equal_one(ood_sets, tmp_path, launcher):
    """detectron2's launch (--num-gpus 2, gloo on the CPU) and torchrun give the single-process document."""
    from fan_det.eval_ood import main

    data = ["--dataset", f"imagenet-r={ood_sets['imagenet-r']}", "--dataset",
            f"imagenet={ood_sets['imagenet']}"]
    main([*TINY_ARGS, *data, "--out", str(tmp_path / "one")])
    if launcher == "num-gpus":
        head, extra = [sys.executable], ["--num-gpus", "2"]
    else:
        head, extra = [sys.executable, *TORCHRUN], []
    command = [*head, "-m", "fan_det.eval_ood", *TINY_ARGS, *data, *extra, "--out", str(tmp_path / "two")]
    done = subprocess.run(command, cwd=REPO_ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"},
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    one, two = (OODResult.load(tmp_path / d / "ood.json") for d in ("one", "two"))
    assert two.datasets == one.datasets
    assert two.model == one.model


def test_a_spawned_rank_refusal_names_the_flag(ood_sets, tmp_path):
    """Another model's ood.json in --out: under --num-gpus 2 the refusal reaches the user worded with
    the flag to pass, as the single-process run words it."""
    from fan_det.eval_ood import main

    data = ["--dataset", f"imagenet-r={ood_sets['imagenet-r']}"]
    main([*TINY_ARGS, *data, "--name", "first", "--out", str(tmp_path)])
    command = [sys.executable, "-m", "fan_det.eval_ood", *TINY_ARGS, *data, "--name", "second",
               "--num-gpus", "2", "--out", str(tmp_path)]
    done = subprocess.run(command, cwd=REPO_ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"},
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 2, done.stderr[-3000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "--overwrite" in last, last
    assert OODResult.load(tmp_path / "ood.json").model["name"] == "first"
