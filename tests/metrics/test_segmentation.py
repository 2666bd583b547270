"""Segmentation metrics against hand values, a pixel-level re-statement and detectron2's SemSegEvaluator."""

import numpy as np
import pytest

from fan_det.metrics import segmentation as seg
from fan_det.protocol import PROTOCOLS, Protocol

TINY = Protocol("tiny", ("fog", "snow"), (1, 3), {"weather": ("fog", "snow")}, "a test grid")


def _pixel_miou(gt: np.ndarray, pred: np.ndarray, num_classes: int) -> tuple[float, list[float]]:
    """mIoU from pixel masks, class by class (no confusion matrix); NaN IoU for a class without truth."""
    keep = gt != 255
    gt, pred = gt[keep], pred[keep]
    ious = []
    for c in range(num_classes):
        truth, guess = gt == c, pred == c
        if not truth.any():
            ious.append(float("nan"))
            continue
        ious.append(100.0 * np.sum(truth & guess) / np.sum(truth | guess))
    return float(np.nanmean(ious)), ious


def _random_images(rng, count: int, num_classes: int, shape=(6, 7)):
    gts, preds = [], []
    for _ in range(count):
        gt = rng.integers(0, num_classes, size=shape)
        gt[rng.random(shape) < 0.2] = 255
        gts.append(gt)
        preds.append(np.where(rng.random(shape) < 0.6, np.where(gt == 255, 0, gt),
                              rng.integers(0, num_classes, size=shape)))
    return gts, preds


def test_confusion_matrix_hand_values():
    gt = np.array([[0, 1, 255], [2, 2, 1]])
    pred = np.array([[0, 2, 1], [2, 0, 1]])
    m = seg.confusion_matrix(gt, pred, 3)
    expected = np.array([[1, 0, 0],   # gt 0: predicted 0 once
                         [0, 1, 1],   # gt 1: once 1, once 2
                         [1, 0, 1]])  # gt 2: once 0, once 2; the ignored pixel counts nowhere
    assert m.dtype == np.int64 and m.tolist() == expected.tolist()
    # IoU_0 = 1 / (1 + 1 + 0); IoU_1 = 1 / (1 + 0 + 1); IoU_2 = 1 / (1 + 1 + 1)
    assert seg.class_iou(m) == pytest.approx([50.0, 50.0, 100 / 3])
    assert seg.mean_iou(m) == pytest.approx((50 + 50 + 100 / 3) / 3)


def test_a_predicted_class_without_ground_truth_is_left_out():
    gt = np.array([0, 0, 1, 1])
    pred = np.array([0, 2, 1, 1])  # class 2 predicted once, never in the ground truth
    m = seg.confusion_matrix(gt, pred, 3)
    iou = seg.class_iou(m)
    assert iou[0] == pytest.approx(50.0) and iou[1] == pytest.approx(100.0) and np.isnan(iou[2])
    assert seg.mean_iou(m) == pytest.approx(75.0)
    stats = seg.cell_stats(m, ["road", "car", "sky"])
    assert stats["excluded"] == ["sky"] and set(stats["IoU"]) == {"road", "car"}
    assert np.isnan(seg.mean_iou(np.zeros((3, 3), dtype=np.int64)))


def test_random_images_equal_the_pixel_computation():
    rng = np.random.default_rng(3)
    gts, preds = _random_images(rng, 5, 4)
    total = sum(seg.confusion_matrix(g, p, 4) for g, p in zip(gts, preds, strict=True))
    miou, ious = _pixel_miou(np.concatenate([g.ravel() for g in gts]),
                             np.concatenate([p.ravel() for p in preds]), 4)
    assert seg.mean_iou(total) == pytest.approx(miou, abs=1e-12)
    np.testing.assert_allclose(seg.class_iou(total), ious, atol=1e-12)


@pytest.mark.parametrize(("gt", "pred", "value"), [([0, 7], [0, 1], "label value 7"),
                                                    ([0, 1], [0, -1], "class value -1")])
def test_values_outside_the_classes_are_refused(gt, pred, value):
    with pytest.raises(ValueError, match=value):
        seg.confusion_matrix(np.array(gt), np.array(pred), 3)


def test_equals_detectron2_semseg_evaluator(tmp_path):
    import torch
    from detectron2.data import DatasetCatalog, MetadataCatalog
    from detectron2.evaluation import SemSegEvaluator
    from PIL import Image

    def load(path, dtype):  # detectron2's own loader asks numpy 2 for a no-copy array PIL cannot give
        return np.asarray(Image.open(path), dtype=dtype)

    rng = np.random.default_rng(5)
    gts, preds = _random_images(rng, 3, 5, shape=(9, 11))
    gts[0][gts[0] == 4] = 0  # class 4 absent from the ground truth ...
    gts[1][gts[1] == 4] = 1
    gts[2][gts[2] == 4] = 2
    preds[0][0, 0] = 4       # ... but predicted
    records = []
    for i, gt in enumerate(gts):
        path = tmp_path / f"gt{i}.png"
        Image.fromarray(gt.astype(np.uint8)).save(path)
        records.append({"file_name": f"img{i}.png", "sem_seg_file_name": str(path)})
    name = "segmentation_metrics_test"
    DatasetCatalog.register(name, lambda: records)
    MetadataCatalog.get(name).set(stuff_classes=[f"c{i}" for i in range(5)], ignore_label=255)
    try:
        evaluator = SemSegEvaluator(name, distributed=False, sem_seg_loading_fn=load)
        evaluator.reset()
        for record, pred in zip(records, preds, strict=True):
            logits = torch.nn.functional.one_hot(torch.as_tensor(pred), 5).permute(2, 0, 1).float()
            evaluator.process([record], [{"sem_seg": logits}])
        theirs = evaluator.evaluate()["sem_seg"]
    finally:
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)
    total = sum(seg.confusion_matrix(g, p, 5) for g, p in zip(gts, preds, strict=True))
    assert seg.mean_iou(total) == pytest.approx(theirs["mIoU"], abs=1e-9)
    for c, ours in enumerate(seg.class_iou(total)):
        theirs_c = theirs[f"IoU-c{c}"]
        assert (np.isnan(ours) and np.isnan(theirs_c)) or ours == pytest.approx(theirs_c)
    assert np.isnan(seg.class_iou(total)[4])


def test_retention_and_protocol_means_hand_values():
    cells = {("clean", 0): 80.0, ("fog", 1): 60.0, ("fog", 3): 40.0, ("snow", 1): 30.0, ("snow", 3): 10.0,
             ("frost", 1): 5.0}  # outside the protocol: never averaged in
    out = seg.protocol_summary(cells, TINY)
    assert out["P"] == 80.0 and out["per_corruption"] == {"fog": 50.0, "snow": 20.0}
    assert out["mPC"] == 35.0 and out["rPC"] == pytest.approx(43.75)
    assert out["per_severity"] == {"1": 45.0, "3": 25.0} and out["per_family"] == {"weather": 35.0}
    assert out["partial"] is False and out["protocol"] == "tiny"
    assert seg.retention(40.0, 80.0) == 50.0
    with pytest.raises(ValueError, match="positive clean"):
        seg.retention(1.0, 0.0)


def test_incomplete_grid_refused_or_marked_partial():
    cells = {("clean", 0): 80.0, ("fog", 1): 60.0, ("fog", 3): 40.0, ("snow", 1): 30.0}
    with pytest.raises(seg.IncompleteProtocolError, match="snow/3"):
        seg.protocol_summary(cells, TINY)
    out = seg.protocol_summary(cells, TINY, allow_partial=True)
    assert out["partial"] and out["missing"] == [["snow", 3]]
    assert out["per_corruption"] == {"fog": 50.0, "snow": 30.0} and out["mPC"] == 40.0
    no_clean = seg.protocol_summary({k: v for k, v in cells.items() if k != ("clean", 0)}, TINY,
                                    allow_partial=True)
    assert "P" not in no_clean and "rPC" not in no_clean


def test_the_three_protocols():
    assert len(PROTOCOLS["benchmark"].cells) == 75
    city = PROTOCOLS["fan-city-c"]
    assert len(city.corruptions) == 19 and city.severities == (1, 2, 3) and len(city.cells) == 57
    paper = PROTOCOLS["city-c-16"]
    assert len(paper.corruptions) == 16 and not {"zoom_blur", "elastic_transform", "pixelate"} & set(
        paper.corruptions)
    for p in PROTOCOLS.values():  # every corruption in exactly one family
        assert sorted(c for names in p.families.values() for c in names) == sorted(p.corruptions)


def test_bootstrap_of_identical_images_is_a_point():
    m = np.array([[3, 1], [1, 5]])  # IoU 3/5 and 5/7
    point = (60.0 + 500 / 7) / 2
    one_cell = Protocol("one", ("fog",), (1,), {"weather": ("fog",)}, "a test grid")
    per_image = {("clean", 0): np.stack([m] * 4), ("fog", 1): np.stack([m // 2 + np.eye(2, dtype=int)] * 4)}
    fog = 100.0  # [[2, 0], [0, 3]]: every pixel right
    out = seg.bootstrap_grid(per_image, one_cell, resamples=20, seed=1)
    assert out["P"] == pytest.approx([point, point])
    assert out["mPC"] == pytest.approx([fog, fog])
    assert out["rPC"] == pytest.approx([100 * fog / point] * 2)
    assert out["resamples"] == 20 and out["seed"] == 1 and out["level"] == 0.95


def test_bootstrap_equals_resampling_pixels():
    """The same draws re-stated on pixels: concatenate the drawn images, score them from masks."""
    rng = np.random.default_rng(11)
    n, resamples, seed = 6, 40, 7
    clean_gt, clean_pred = _random_images(rng, n, 4)
    fog_pred = [np.where(rng.random(p.shape) < 0.5, p, 0) for p in clean_pred]
    one_cell = Protocol("one", ("fog",), (1,), {"weather": ("fog",)}, "a test grid")
    per_image = {cell: np.stack([seg.confusion_matrix(g, p, 4) for g, p in zip(clean_gt, preds, strict=True)])
                 for cell, preds in ((("clean", 0), clean_pred), (("fog", 1), fog_pred))}
    out = seg.bootstrap_grid(per_image, one_cell, resamples=resamples, seed=seed)

    draws = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    clean, fog = [], []
    for row in draws:
        gt = np.concatenate([clean_gt[i].ravel() for i in row])
        clean.append(_pixel_miou(gt, np.concatenate([clean_pred[i].ravel() for i in row]), 4)[0])
        fog.append(_pixel_miou(gt, np.concatenate([fog_pred[i].ravel() for i in row]), 4)[0])
    clean, fog = np.array(clean), np.array(fog)
    for key, values in (("P", clean), ("mPC", fog), ("rPC", 100 * fog / clean)):
        assert out[key] == pytest.approx([np.percentile(values, 2.5), np.percentile(values, 97.5)], abs=1e-9)
    assert out["P"][0] < out["P"][1]


def test_bootstrap_needs_one_image_count_and_full_grids():
    per_image = {("clean", 0): np.ones((3, 2, 2), dtype=int), ("fog", 1): np.ones((4, 2, 2), dtype=int)}
    with pytest.raises(ValueError, match="different image counts"):
        seg.bootstrap_grid(per_image, TINY, resamples=5)
    out = seg.bootstrap_grid({("clean", 0): np.ones((3, 2, 2), dtype=int)}, TINY, resamples=5)
    assert "P" in out and "mPC" not in out and "rPC" not in out
    with pytest.raises(ValueError, match="at least 2"):
        seg.bootstrap_grid({("clean", 0): np.ones((3, 2, 2), dtype=int)}, TINY, resamples=1)


def test_domain_bootstrap_mean_only_over_every_domain():
    m = np.array([[4, 0], [0, 4]])
    per_image = {d: np.stack([m] * 3) for d in ("fog", "night", "rain")}
    out = seg.bootstrap_domains(per_image, resamples=10)
    assert out["per_domain"] == {d: [100.0, 100.0] for d in per_image} and "mean" not in out
    per_image["snow"] = np.stack([np.array([[1, 1], [0, 2]])] * 3)  # IoU 1/2 and 2/3
    out = seg.bootstrap_domains(per_image, resamples=10)
    snow = (50 + 200 / 3) / 2
    assert out["per_domain"]["snow"] == pytest.approx([snow, snow])
    assert out["mean"] == pytest.approx([(300 + snow) / 4] * 2)
    with pytest.raises(ValueError, match="unknown domain"):
        seg.bootstrap_domains({"dusk": np.stack([m] * 3)}, resamples=10)
