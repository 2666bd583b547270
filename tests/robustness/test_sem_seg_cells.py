"""A segmentation cell end to end (detectron2's semantic FPN, random weights, on the tiny segmentation
set): its mIoU equals an independent computation on the predictions the model made, and a cell read from
a materialised folder equals the same cell corrupted on the fly, exactly."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from fan_det.data.register import register_tiny_datasets
from fan_det.protocol import Cell
from fan_det.robustness.detector import build_eval_model, load_config
from fan_det.robustness.sem_seg import evaluate_sem_seg_cell

SOURCE = "fan_synth_seg_val"
DATASET = "fan_synth_seg_val_first6"  # six images: a cell costs seconds on a busy 2-core machine
CONFIG = "Misc/semantic_R_50_FPN_1x.yaml"
OPTS = ["MODEL.SEM_SEG_HEAD.NUM_CLASSES", "5", "INPUT.MIN_SIZE_TEST", "64", "INPUT.MAX_SIZE_TEST", "64",
        "MODEL.RESNETS.DEPTH", "18", "MODEL.RESNETS.RES2_OUT_CHANNELS", "64"]


class Recording:
    """The model, keeping each image's predicted class map as the evaluator receives it."""

    def __init__(self, model):
        self.model, self.saved = model, {}

    def __call__(self, inputs):
        outputs = self.model(inputs)
        for record, output in zip(inputs, outputs, strict=True):
            self.saved[record["file_name"]] = output["sem_seg"].argmax(0).numpy()
        return outputs

    def __getattr__(self, name):
        return getattr(self.model, name)


@pytest.fixture(scope="module")
def model_and_cfg(one_torch_thread):
    from detectron2.data import DatasetCatalog, MetadataCatalog

    register_tiny_datasets()
    if DATASET not in DatasetCatalog.list():
        DatasetCatalog.register(DATASET, lambda: DatasetCatalog.get(SOURCE)[:6])
        meta = {k: v for k, v in MetadataCatalog.get(SOURCE).as_dict().items() if k != "name"}
        MetadataCatalog.get(DATASET).set(**meta)
    cfg = load_config(CONFIG, OPTS)
    model, _ = build_eval_model(cfg, seed=0)
    return model, cfg


def _independent_miou(saved: dict, records: list[dict]) -> float:
    """mIoU over the whole set from pixel masks (no confusion matrix), classes with ground truth only."""
    truth = np.concatenate([np.asarray(Image.open(r["sem_seg_file_name"])).ravel() for r in records])
    guess = np.concatenate([saved[r["file_name"]].ravel() for r in records])
    keep = truth != 255
    truth, guess = truth[keep], guess[keep]
    ious = [np.sum((truth == c) & (guess == c)) / np.sum((truth == c) | (guess == c))
            for c in range(5) if np.any(truth == c)]
    return 100.0 * float(np.mean(ious))


def test_cell_miou_equals_the_saved_predictions_scored_independently(model_and_cfg):
    from detectron2.data import DatasetCatalog

    model, cfg = model_and_cfg
    recording = Recording(model)
    record = evaluate_sem_seg_cell(recording, cfg, DATASET, Cell("fog", 2), seed=0, materialised=False,
                                   num_workers=0)
    records = DatasetCatalog.get(DATASET)
    assert record["num_images"] == len(records) == len(recording.saved)
    # the same IoUs averaged in another order may differ in the last bit
    assert record["stats"]["mIoU"] == pytest.approx(_independent_miou(recording.saved, records), rel=1e-12)
    assert record["matrices"].shape == (len(records), 5, 5)


def test_materialised_cell_equals_the_cell_on_the_fly(model_and_cfg, tmp_path):
    from fan_det.build_corrupted import main
    from fan_det.corruptions import register_coco_c

    model, cfg = model_and_cfg
    out = tmp_path / "city_c"
    assert main(["--dataset", DATASET, "--corruptions", "gaussian_noise", "--severities", "3",
                 "--out", str(out), "--no-progress"]) == 0
    register_coco_c(DATASET, out, ["gaussian_noise"], [3])
    cell = Cell("gaussian_noise", 3)
    on_the_fly = evaluate_sem_seg_cell(model, cfg, DATASET, cell, seed=0, materialised=False, num_workers=0)
    stored = evaluate_sem_seg_cell(model, cfg, DATASET, cell, seed=0, materialised=True, num_workers=0)
    assert np.array_equal(on_the_fly["matrices"], stored["matrices"])
    assert on_the_fly["stats"] == stored["stats"]
    clean = evaluate_sem_seg_cell(model, cfg, DATASET, Cell("clean", 0), seed=0, materialised=False,
                                  num_workers=0)
    assert not np.array_equal(clean["matrices"], on_the_fly["matrices"])  # the corruption did something
