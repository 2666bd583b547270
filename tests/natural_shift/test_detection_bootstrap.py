"""Per-image bootstrap of detection AP: exact on the identity resample, seeded, narrower on more images."""

import contextlib
import io

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from fan_det.protocol import BENCHMARK, COCO_O_DOMAINS, SEVERITIES
from fan_det.robustness.bootstrap import (
    bootstrap_intervals,
    domain_intervals,
    evaluate_per_image,
    resampled_ap,
)


def _synthetic(num_images: int, seed: int) -> tuple[COCO, list[dict]]:
    """Random ground truth over 3 classes and detections that find most of it with jitter and noise."""
    rng = np.random.default_rng(seed)
    images, anns, dets = [], [], []
    for i in range(1, num_images + 1):
        images.append({"id": i, "width": 640, "height": 480, "file_name": f"{i}.jpg"})
        for _ in range(rng.integers(1, 5)):
            x, y = rng.uniform(0, 500), rng.uniform(0, 350)
            w, h = rng.uniform(10, 140), rng.uniform(10, 130)
            cat = int(rng.integers(1, 4))
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": cat, "bbox": [x, y, w, h],
                         "area": w * h, "iscrowd": 0})
            if rng.random() < 0.8:
                jitter = rng.normal(0, 0.15, 4) * [w, h, w, h]
                dets.append({"image_id": i, "category_id": cat, "score": float(rng.uniform(0.3, 1)),
                             "bbox": list(np.array([x, y, w, h]) + jitter)})
        for _ in range(rng.integers(0, 3)):
            dets.append({"image_id": i, "category_id": int(rng.integers(1, 4)), "score": float(rng.random()),
                         "bbox": [float(rng.uniform(0, 500)), float(rng.uniform(0, 350)), 50.0, 50.0]})
    gt = COCO()
    gt.dataset = {"images": images, "annotations": anns,
                  "categories": [{"id": c, "name": str(c)} for c in (1, 2, 3)]}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
    return gt, dets


def _official_ap(gt: COCO, dets: list[dict]) -> float:
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator = COCOeval(gt, gt.loadRes(dets), "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return 100.0 * evaluator.stats[0]


def test_identity_resample_equals_the_official_ap():
    gt, dets = _synthetic(60, seed=0)
    evaluated = evaluate_per_image(gt, dets)
    assert resampled_ap(evaluated, np.arange(60)) == pytest.approx(_official_ap(gt, dets), abs=1e-9)


def test_a_resample_with_repeats_equals_the_official_ap_of_the_duplicated_set():
    gt, dets = _synthetic(30, seed=1)
    positions = np.array([0, 0, 3, 7, 7, 7, 12, 29])
    ids = [gt.dataset["images"][p]["id"] for p in positions]
    # an independent duplicated data set: each drawn image becomes a new image with its own copies
    images, anns, dup = [], [], []
    for new_id, old in enumerate(ids, 1):
        images.append({**gt.imgs[old], "id": new_id})
        anns += [{**a, "id": len(anns) + k + 1, "image_id": new_id}
                 for k, a in enumerate(gt.imgToAnns[old])]
        dup += [{**d, "image_id": new_id} for d in dets if d["image_id"] == old]
    copy_gt = COCO()
    copy_gt.dataset = {"images": images, "annotations": anns, "categories": gt.dataset["categories"]}
    with contextlib.redirect_stdout(io.StringIO()):
        copy_gt.createIndex()
    expected = _official_ap(copy_gt, [{k: v for k, v in d.items() if k not in ("id", "area")} for d in dup])
    assert resampled_ap(evaluate_per_image(gt, dets), positions) == pytest.approx(expected, abs=1e-9)


def test_intervals_are_seeded_and_shrink_as_the_set_grows():
    small = {("clean", 0): evaluate_per_image(*_synthetic(40, seed=2))}
    large = {("clean", 0): evaluate_per_image(*_synthetic(640, seed=2))}
    a = bootstrap_intervals(small, resamples=60, seed=5)
    assert a == bootstrap_intervals(small, resamples=60, seed=5)
    assert a["P"] != bootstrap_intervals(small, resamples=60, seed=6)["P"]
    b = bootstrap_intervals(large, resamples=60, seed=5)
    assert (b["P"][1] - b["P"][0]) < 0.6 * (a["P"][1] - a["P"][0])
    assert "mPC" not in a  # no benchmark grid, no mPC interval


def test_mpc_interval_uses_the_same_resample_in_every_cell():
    evaluated = evaluate_per_image(*_synthetic(40, seed=3))
    cells = {("clean", 0): evaluated, **{(c, s): evaluated for c in BENCHMARK for s in SEVERITIES}}
    out = bootstrap_intervals(cells, resamples=8, seed=0)
    assert out["mPC"] == pytest.approx(out["P"])  # identical cells: mPC equals P on every resample
    assert out["P"][0] < _official_ap(*_synthetic(40, seed=3)) < out["P"][1]


def test_domain_intervals_resample_each_domain_and_bound_the_mean():
    sets = {d: _synthetic(30 + 5 * k, seed=10 + k) for k, d in enumerate(COCO_O_DOMAINS)}
    evaluated = {d: evaluate_per_image(*s) for d, s in sets.items()}
    out = domain_intervals(evaluated, resamples=40, seed=1)
    official = {d: _official_ap(*s) for d, s in sets.items()}
    for domain, (lo, hi) in out["per_domain"].items():
        assert lo < official[domain] < hi, domain
    mean = sum(official.values()) / len(official)
    lo, hi = out["mean"]
    assert lo < mean < hi
    # averaging six independent domains narrows the interval below the widest domain's
    assert hi - lo < max(h - lw for lw, h in out["per_domain"].values())
    assert out == domain_intervals(evaluated, resamples=40, seed=1)
    fewer = domain_intervals({d: evaluated[d] for d in COCO_O_DOMAINS[:2]}, resamples=5)
    assert "mean" not in fewer and set(fewer["per_domain"]) == set(COCO_O_DOMAINS[:2])
