"""Per-image bootstrap of detection AP: every resample's AP from weighted sums equals pycocotools'
re-accumulation of the same resample; the identity resample equals the scorers' AP; intervals are seeded,
drawn as before, and narrower on more images."""

import contextlib
import io

import numpy as np
import pytest
from bootstrap_reference import evaluated, reaccumulated_ap
from detectron2.data import DatasetCatalog
from pycocotools.coco import COCO

from fan_det.data.register import register_tiny_datasets
from fan_det.protocol import BENCHMARK, COCO_O_DOMAINS, SEVERITIES
from fan_det.robustness.bootstrap import (
    bootstrap_intervals,
    dataset_ground_truth,
    domain_intervals,
    image_weights,
    match_detections,
    resampled_aps,
)
from fan_det.robustness.scoring import SCORERS, coco_stats


def _coco(images: list[dict], anns: list[dict], categories: list[int]) -> COCO:
    gt = COCO()
    gt.dataset = {"images": images, "annotations": anns,
                  "categories": [{"id": c, "name": str(c)} for c in categories]}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
    return gt


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
    return _coco(images, anns, [1, 2, 3]), dets


def _random_set(num_images: int, seed: int, tied_scores: bool = False) -> tuple[COCO, list[dict]]:
    """Harder random data: 5 classes (one never in the ground truth, one never detected), crowd regions,
    images without ground truth, images without detections, more than 100 detections in some images,
    detections stacked on the same object; ``tied_scores`` rounds scores to 2 decimals (many ties)."""
    rng = np.random.default_rng(seed)
    images, anns, dets = [], [], []
    for i in range(1, num_images + 1):
        images.append({"id": 10 * i + 3, "width": 320, "height": 240, "file_name": f"{i}.jpg"})
        boxes = []
        for _ in range(rng.choice([0, 0, 1, 3, 6])):
            w, h = rng.uniform(4, 120, 2)
            box = [float(rng.uniform(0, 300 - w)), float(rng.uniform(0, 220 - h)), float(w), float(h)]
            cat = int(rng.choice([1, 2, 3, 4]))
            crowd = int(rng.random() < 0.15)
            anns.append({"id": len(anns) + 1, "image_id": 10 * i + 3, "category_id": cat, "bbox": box,
                         "area": w * h, "iscrowd": crowd})
            boxes.append((box, cat))
        if rng.random() < 0.15:
            continue  # no detections in this image
        for box, cat in boxes:
            for _ in range(rng.integers(0, 4)):  # duplicates: one matches, the others are false positives
                jitter = rng.normal(0, 0.12, 4) * [box[2], box[3], box[2], box[3]]
                label = cat if rng.random() < 0.85 else int(rng.choice([1, 2, 3, 5]))
                dets.append({"image_id": 10 * i + 3, "category_id": label,
                             "score": float(rng.uniform(0.2, 1)),
                             "bbox": [float(v) for v in np.abs(np.array(box) + jitter)]})
        for _ in range(int(rng.choice([0, 2, 8, 130]))):
            x, y, w, h = (float(v) for v in rng.uniform([0, 0, 4, 4], [300, 220, 100, 100]))
            dets.append({"image_id": 10 * i + 3, "category_id": int(rng.choice([1, 2, 3, 5])),
                         "score": float(rng.random()), "bbox": [x, y, w, h]})
    if tied_scores:
        for det in dets:
            det["score"] = round(det["score"], 2)
    return _coco(images, anns, [1, 2, 3, 4, 5, 6]), dets


def _official_ap(gt: COCO, dets: list[dict], scorer: str = "pycocotools") -> float:
    return 100.0 * float(coco_stats(gt.dataset, dets, "bbox", scorer)[0])


def _draws(num_images: int, count: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, num_images, size=num_images) for _ in range(count)]


def _assert_every_resample_equals_the_reference(gt: COCO, dets: list[dict], resamples: int, seed: int):
    num_images = len(gt.imgs)
    draws = _draws(num_images, resamples, seed)
    # a few extreme draws too: one image many times, half the images twice
    draws += [np.full(num_images, 1), np.repeat(np.arange(0, num_images, 2), 2)[:num_images]]
    expected = np.array([reaccumulated_ap(evaluated(gt, dets), d) for d in draws])
    got = resampled_aps(match_detections(gt, dets), np.stack([image_weights(d, num_images) for d in draws]))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12, equal_nan=True)
    assert np.isfinite(expected[:-2]).all() and len(set(np.round(expected, 6))) > resamples // 2


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_resample_equals_pycocotools_reaccumulating_it_on_random_detections(seed):
    _assert_every_resample_equals_the_reference(*_random_set(40, seed=seed), resamples=25, seed=seed)


def test_every_resample_equals_pycocotools_reaccumulating_it_on_jittered_detections():
    _assert_every_resample_equals_the_reference(*_synthetic(50, seed=7), resamples=25, seed=3)


@pytest.mark.parametrize("dataset", ["fan_synth_val", "fan_real_photos"])
def test_every_resample_equals_pycocotools_reaccumulating_it_on_the_tiny_sets(dataset):
    register_tiny_datasets()
    DatasetCatalog.get(dataset)  # builds the tiny set on first use (a fresh cache has none)
    gt = dataset_ground_truth(dataset)
    rng = np.random.default_rng(len(dataset))
    dets = []
    for ann in gt.anns.values():  # found with jitter (sometimes as another class), plus false alarms
        for _ in range(rng.integers(0, 3)):
            x, y, w, h = ann["bbox"]
            category = ann["category_id"] if rng.random() < 0.8 else int(rng.choice(gt.getCatIds()))
            dets.append({"image_id": ann["image_id"], "category_id": category, "score": float(rng.random()),
                         "bbox": [float(v) for v in np.abs(np.array([x, y, w, h]) + rng.normal(0, 0.1, 4)
                                                            * [w, h, w, h])]})
    for image_id in rng.choice(gt.getImgIds(), size=len(gt.imgs) // 2):
        dets.append({"image_id": int(image_id), "category_id": int(rng.choice(gt.getCatIds())),
                     "score": float(rng.random()), "bbox": [*map(float, rng.uniform(0, 100, 2)), 30.0, 20.0]})
    _assert_every_resample_equals_the_reference(gt, dets, resamples=20, seed=0)


@pytest.mark.parametrize("scorer", SCORERS)
@pytest.mark.parametrize("tied_scores", [False, True])
def test_identity_resample_equals_the_scorers_ap(scorer, tied_scores):
    gt, dets = _random_set(60, seed=11, tied_scores=tied_scores)
    (ap,) = resampled_aps(match_detections(gt, dets), np.ones((1, 60)))
    assert ap == pytest.approx(_official_ap(gt, dets, scorer), rel=0, abs=1e-12)


def test_a_resample_without_ground_truth_has_no_ap():
    gt, dets = _random_set(30, seed=4)
    empty = [k for k, image_id in enumerate(sorted(gt.imgs)) if not gt.getAnnIds(imgIds=image_id)]
    weights = np.zeros((2, 30))
    weights[0, empty[0]] = 30
    weights[1, empty[0]], weights[1, 0] = 29, 1
    got = resampled_aps(match_detections(gt, dets), weights)
    assert np.isnan(got[0])
    evaluation = evaluated(gt, dets)
    assert got[1] == pytest.approx(reaccumulated_ap(evaluation, np.array([0] + [empty[0]] * 29)), abs=1e-12)


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
    copy_gt = _coco(images, anns, [1, 2, 3])
    expected = _official_ap(copy_gt, [{k: v for k, v in d.items() if k not in ("id", "area")} for d in dup])
    (got,) = resampled_aps(match_detections(gt, dets), image_weights(positions, 30)[None])
    assert got == pytest.approx(expected, abs=1e-9)


def test_intervals_are_drawn_as_before_and_seeded():
    """The resamples are the draws of the re-accumulating implementation: same seed, same interval."""
    gt, dets = _synthetic(40, seed=2)
    evaluation = evaluated(gt, dets)
    values = [reaccumulated_ap(evaluation, d) for d in _draws(40, 30, seed=5)]
    out = bootstrap_intervals({("clean", 0): match_detections(gt, dets)}, resamples=30, seed=5)
    assert out["P"] == pytest.approx([np.percentile(values, 2.5), np.percentile(values, 97.5)], abs=1e-9)
    assert out["P"] != bootstrap_intervals({("clean", 0): match_detections(gt, dets)}, resamples=30,
                                           seed=6)["P"]


def test_intervals_shrink_as_the_set_grows():
    small = {("clean", 0): match_detections(*_synthetic(40, seed=2))}
    large = {("clean", 0): match_detections(*_synthetic(640, seed=2))}
    a = bootstrap_intervals(small, resamples=60, seed=5)
    b = bootstrap_intervals(large, resamples=60, seed=5)
    assert (b["P"][1] - b["P"][0]) < 0.6 * (a["P"][1] - a["P"][0])
    assert "mPC" not in a  # no benchmark grid, no mPC interval


def test_mpc_interval_uses_the_same_resample_in_every_cell():
    matched = match_detections(*_synthetic(40, seed=3))
    cells = {("clean", 0): matched, **{(c, s): matched for c in BENCHMARK for s in SEVERITIES}}
    out = bootstrap_intervals(cells, resamples=8, seed=0)
    assert out["mPC"] == pytest.approx(out["P"])  # identical cells: mPC equals P on every resample
    assert out["P"][0] < _official_ap(*_synthetic(40, seed=3)) < out["P"][1]


def test_domain_intervals_resample_each_domain_and_bound_the_mean():
    sets = {d: _synthetic(30 + 5 * k, seed=10 + k) for k, d in enumerate(COCO_O_DOMAINS)}
    matched = {d: match_detections(*s) for d, s in sets.items()}
    out = domain_intervals(matched, resamples=40, seed=1)
    official = {d: _official_ap(*s) for d, s in sets.items()}
    for domain, (lo, hi) in out["per_domain"].items():
        assert lo < official[domain] < hi, domain
    mean = sum(official.values()) / len(official)
    lo, hi = out["mean"]
    assert lo < mean < hi
    # averaging six independent domains narrows the interval below the widest domain's
    assert hi - lo < max(h - lw for lw, h in out["per_domain"].values())
    assert out == domain_intervals(matched, resamples=40, seed=1)
    fewer = domain_intervals({d: matched[d] for d in COCO_O_DOMAINS[:2]}, resamples=5)
    assert "mean" not in fewer and set(fewer["per_domain"]) == set(COCO_O_DOMAINS[:2])
    # drawn as before: resample by resample, domain by domain, from one generator
    rng = np.random.default_rng(1)
    evaluations = {d: evaluated(*s) for d, s in sets.items()}
    values = {d: [] for d in sets}
    for _ in range(40):
        for d, (gt, _) in sets.items():
            drawn = rng.integers(0, len(gt.imgs), size=len(gt.imgs))
            values[d].append(reaccumulated_ap(evaluations[d], drawn))
    for d, v in values.items():
        expected = [np.percentile(v, 2.5), np.percentile(v, 97.5)]
        assert out["per_domain"][d] == pytest.approx(expected, abs=1e-9)


def test_a_cell_without_detections_scores_zero_on_every_resample():
    gt, _ = _random_set(20, seed=5)
    weights = np.stack([image_weights(d, 20) for d in _draws(20, 4, seed=0)])
    assert resampled_aps(match_detections(gt, []), weights).tolist() == [0.0] * 4
