"""Data-parallel evaluation counts every image exactly once, whatever the world size."""

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
