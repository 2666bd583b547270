"""evaluate_cell with stand-in models: the scores equal pycocotools run here, whatever the detections."""

import contextlib
import io
import json
import math

import numpy as np
import pytest
import torch
from detectron2.config import get_cfg
from detectron2.data import MetadataCatalog
from detectron2.structures import Boxes, Instances
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from fan_det.data.register import register_tiny_datasets
from fan_det.protocol import Cell
from fan_det.robustness.inference import evaluate_cell

DATASET = "fan_synth_val_mini"
NAMES = ["AP", "AP50", "AP75", "APs", "APm", "APl"]


@pytest.fixture(scope="module")
def ground_truth():
    register_tiny_datasets()
    meta = MetadataCatalog.get(DATASET)
    return meta, json.loads(open(meta.json_file).read())


class StandIn:
    """Returns, per image, jittered ground-truth boxes (some dropped) plus random false positives."""

    def __init__(self, gt, meta, rng, keep=0.7, false_positives=3):
        self.by_image = {}
        for ann in gt["annotations"]:
            self.by_image.setdefault(ann["image_id"], []).append(ann)
        self.to_contiguous = meta.thing_dataset_id_to_contiguous_id
        self.rng, self.keep, self.false_positives = rng, keep, false_positives
        self.image_sums = {}

    def __call__(self, inputs):
        outputs = []
        for item in inputs:
            h, w = item["height"], item["width"]
            self.image_sums[item["image_id"]] = float(item["image"].float().sum())
            boxes, classes = [], []
            for ann in self.by_image.get(item["image_id"], []):
                if self.rng.uniform() < self.keep:
                    x, y, bw, bh = ann["bbox"]
                    boxes.append([x, y, x + bw, y + bh] + self.rng.normal(0, 2, 4))
                    classes.append(self.to_contiguous[ann["category_id"]])
            for _ in range(self.false_positives):
                x0, y0 = self.rng.uniform(0, w - 40), self.rng.uniform(0, h - 40)
                boxes.append([x0, y0, x0 + self.rng.uniform(10, 40), y0 + self.rng.uniform(10, 40)])
                classes.append(int(self.rng.integers(0, 4)))
            n = len(boxes)
            instances = Instances((h, w))
            instances.pred_boxes = Boxes(torch.tensor(np.array(boxes), dtype=torch.float32).reshape(n, 4))
            instances.scores = torch.tensor(self.rng.uniform(0.05, 1, n), dtype=torch.float32)
            instances.pred_classes = torch.tensor(classes, dtype=torch.int64)
            outputs.append({"instances": instances})
        return outputs


def _cfg():
    cfg = get_cfg()
    cfg.INPUT.MIN_SIZE_TEST = 128
    cfg.INPUT.MAX_SIZE_TEST = 160
    return cfg


def _pycocotools(json_file, detections):
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(json_file)
        coco_eval = COCOeval(gt, gt.loadRes(detections), "bbox")
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
    return {k: 100 * v for k, v in zip(NAMES, coco_eval.stats[:6], strict=True) if v >= 0}


@pytest.mark.parametrize("scorer", ["faster-coco-eval", "pycocotools"])
def test_stats_equal_pycocotools_and_corruption_reaches_the_model(ground_truth, scorer):
    meta, gt = ground_truth
    model = StandIn(gt, meta, np.random.default_rng(0))
    clean = evaluate_cell(model, _cfg(), DATASET, Cell("clean", 0), seed=0, materialised=False, num_workers=0,
                          scorer=scorer)
    clean_sums = dict(model.image_sums)
    noisy = evaluate_cell(model, _cfg(), DATASET, Cell("gaussian_noise", 3), seed=0, materialised=False,
                          num_workers=0, scorer=scorer)
    for record in (clean, noisy):
        assert record["num_images"] == len(gt["images"]) == 16
        assert record["num_detections"] == len(record["detections"]) > 0
        expected = _pycocotools(meta.json_file, record["detections"])
        assert 5 < expected["AP"] < 95  # a non-trivial score
        assert record["stats"]["bbox"] == pytest.approx(expected, abs=1e-9)
        assert {d["category_id"] for d in record["detections"]} <= {c["id"] for c in gt["categories"]}
    assert clean["stats"] != noisy["stats"]  # different random detections, different scores
    assert all(model.image_sums[i] != clean_sums[i] for i in clean_sums)  # the images were corrupted


@pytest.mark.parametrize("scorer", ["faster-coco-eval", "pycocotools"])
def test_no_detections_scores_zero_not_nan(ground_truth, scorer):
    meta, gt = ground_truth

    def detects_nothing(inputs):
        empty = {"pred_boxes": Boxes(torch.zeros(0, 4)), "scores": torch.zeros(0),
                 "pred_classes": torch.zeros(0, dtype=torch.int64)}
        return [{"instances": Instances((x["height"], x["width"]), **empty)} for x in inputs]

    record = evaluate_cell(detects_nothing, _cfg(), DATASET, Cell("fog", 1), seed=0, materialised=False,
                           num_workers=0, scorer=scorer)
    areas = [a["area"] for a in gt["annotations"] if not a.get("iscrowd", 0)]
    present = {"AP": True, "AP50": True, "AP75": True, "APs": any(a < 32**2 for a in areas),
               "APm": any(32**2 <= a < 96**2 for a in areas), "APl": any(a >= 96**2 for a in areas)}
    assert record["num_detections"] == 0 and record["num_images"] == 16
    assert record["stats"]["bbox"] == {k: 0.0 for k, p in present.items() if p}
    assert all(math.isfinite(v) for v in record["stats"]["bbox"].values())


def test_materialised_coco_c_gives_the_on_the_fly_images_and_scores(ground_truth, tmp_path):
    from fan_det.corruptions import build_coco_c, load_images, register_coco_c

    meta, gt = ground_truth
    build_coco_c(load_images(DATASET, None, "png"), tmp_path, ["contrast"], [2], dataset=DATASET,
                 progress=False)
    register_coco_c(DATASET, tmp_path, ["contrast"], [2])
    records, sums = [], []
    for materialised in (False, True):
        model = StandIn(gt, meta, np.random.default_rng(1))  # same detections for the same images
        records.append(evaluate_cell(model, _cfg(), DATASET, Cell("contrast", 2), seed=0,
                                     materialised=materialised, num_workers=0))
        sums.append(model.image_sums)
    assert sums[0] == sums[1]  # lossless files: the model saw the same corrupted pixels
    assert records[0]["stats"] == records[1]["stats"] and records[1]["num_images"] == 16


class _RecordThreads:
    """Stands in for ``budgeted_worker_init``: applies the real one, then writes what the worker reports."""

    def __init__(self, folder, threads):
        from fan_det.runtime.threads import budgeted_worker_init

        self.folder, self.real = folder, budgeted_worker_init(threads)

    def __call__(self, worker_id):
        import os
        import sys

        self.real(worker_id)
        seen = {"omp": os.environ["OMP_NUM_THREADS"], "numba_loaded": "numba" in sys.modules}
        if seen["numba_loaded"]:
            seen["numba"] = sys.modules["numba"].get_num_threads()
        (self.folder / f"{worker_id}.json").write_text(json.dumps(seen))


def test_loader_workers_run_within_their_thread_budget(ground_truth, tmp_path, monkeypatch):
    import fan_det.robustness.inference as inference

    meta, gt = ground_truth
    monkeypatch.setattr(inference, "budgeted_worker_init", lambda threads: _RecordThreads(tmp_path, threads))
    model = StandIn(gt, meta, np.random.default_rng(4))
    record = evaluate_cell(model, _cfg(), DATASET, Cell("snow", 2), seed=0, materialised=False, num_workers=2,
                           worker_threads=1)
    assert record["num_images"] == 16
    seen = [json.loads(p.read_text()) for p in sorted(tmp_path.glob("*.json"))]
    # both workers: the corruption libraries' OpenMP and numba pools on 1 thread (OpenCV, in a forked
    # worker, keeps the parent's setting: see fan_det.runtime.threads.apply_threads)
    assert seen == [{"omp": "1", "numba_loaded": True, "numba": 1}] * 2
