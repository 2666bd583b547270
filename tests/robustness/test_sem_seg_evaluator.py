"""The per-image confusion evaluator against predictions scored independently from pixel masks."""

import numpy as np
import pytest
import torch
from PIL import Image

from fan_det.robustness.sem_seg import (
    ConfusionEvaluator,
    LabelError,
    matrices_from_bytes,
    matrices_to_bytes,
)

NUM_CLASSES = 4


def _set(tmp_path, count=3, seed=0):
    rng = np.random.default_rng(seed)
    records, predictions = [], []
    for i in range(count):
        label = rng.integers(0, NUM_CLASSES, (5, 7)).astype(np.uint8)
        label[0, :3] = 255
        path = tmp_path / f"label{i}.png"
        Image.fromarray(label).save(path)
        records.append({"file_name": f"images/{i}.png", "sem_seg_file_name": str(path)})
        predictions.append(rng.integers(0, NUM_CLASSES, (5, 7)))
    return records, predictions


def _logits(prediction):
    """Logits whose argmax is ``prediction`` (random values, the winner raised above the rest)."""
    logits = torch.rand(NUM_CLASSES, *prediction.shape)
    logits.scatter_(0, torch.as_tensor(prediction)[None], 2.0)
    return {"sem_seg": logits}


def _evaluated(records, predictions, keys):
    evaluator = ConfusionEvaluator(records, keys, NUM_CLASSES, 255)
    evaluator.reset()
    order = [2, 0, 1]  # images arrive in any order; the result follows the keys
    for i in order:
        evaluator.process([records[i]], [_logits(predictions[i])])
    return evaluator.evaluate()["matrices"]


def test_matrices_are_per_image_in_key_order_and_equal_pixel_counts(tmp_path):
    records, predictions = _set(tmp_path)
    matrices = _evaluated(records, predictions, ["a", "b", "c"])
    assert matrices.shape == (3, NUM_CLASSES, NUM_CLASSES) and matrices.dtype == np.int64
    for matrix, record, prediction in zip(matrices, records, predictions, strict=True):
        label = np.asarray(Image.open(record["sem_seg_file_name"]))
        for t in range(NUM_CLASSES):
            for p in range(NUM_CLASSES):
                assert matrix[t, p] == np.sum((label == t) & (prediction == p))
    assert matrices.sum() == 3 * (5 * 7 - 3)  # every labelled pixel once, the 255 ones nowhere
    assert np.array_equal(matrices_from_bytes(matrices_to_bytes(matrices)), matrices)


def test_a_label_outside_the_classes_names_the_file(tmp_path):
    records, predictions = _set(tmp_path)
    Image.fromarray(np.full((5, 7), 9, np.uint8)).save(records[1]["sem_seg_file_name"])
    with pytest.raises(LabelError, match=r"label1\.png: ground-truth label value 9"):
        _evaluated(records, predictions, ["a", "b", "c"])


def test_a_label_of_another_size_and_a_missing_image_are_refused(tmp_path):
    records, predictions = _set(tmp_path)
    Image.fromarray(np.zeros((6, 7), np.uint8)).save(records[0]["sem_seg_file_name"])
    with pytest.raises(LabelError, match="label0.png is 7x6, its image 7x5"):
        _evaluated(records, predictions, ["a", "b", "c"])
    records, predictions = _set(tmp_path)
    evaluator = ConfusionEvaluator(records, ["a", "b", "c"], NUM_CLASSES, 255)
    evaluator.process([records[0]], [_logits(predictions[0])])
    with pytest.raises(RuntimeError, match="scored 1 images but the dataset has 3"):
        evaluator.evaluate()
