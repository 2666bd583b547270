"""The tiny segmentation sets, label checking, and Cityscapes roots (check_data and the trainer)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fan_det.data.synthetic_seg import CLASSES, IGNORE_LABEL, SPLITS
from fan_det.paths import REPO_ROOT
from fan_det.segmentation import LabelError, cityscapes_label_problems, read_checked_label


def test_tiny_sets_are_registered_with_labels_and_ignore_regions():
    from detectron2.data import DatasetCatalog, MetadataCatalog

    from fan_det.data.register import register_tiny_datasets

    register_tiny_datasets()
    for split, (count, _seed) in SPLITS.items():
        name = f"fan_synth_seg_{split}"
        dicts = DatasetCatalog.get(name)
        meta = MetadataCatalog.get(name)
        assert len(dicts) == count
        assert meta.evaluator_type == "sem_seg" and meta.ignore_label == 255
        assert meta.stuff_classes == ["background", "disk", "square", "triangle", "cross"]
        seen = set()
        for d in dicts[:10]:
            label = np.asarray(Image.open(d["sem_seg_file_name"]))
            image = Image.open(d["file_name"])
            assert label.shape == (image.height, image.width) and label.ndim == 2
            seen |= set(np.unique(label).tolist())
        assert seen <= {*range(len(CLASSES)), IGNORE_LABEL}
        assert IGNORE_LABEL in seen and len(seen - {0, IGNORE_LABEL}) >= 3  # shapes and ignored pixels


def test_each_shape_class_is_filled_with_hues_of_its_own_quarter_of_the_colour_circle():
    """Colour tells the class as well as the outline: the labelled pixels of class k (1-4) have hues in
    [(k - 1) / 4, k / 4) of the circle (the image's per-pixel shading may push a rare clipped pixel out)."""
    from matplotlib.colors import rgb_to_hsv

    from fan_det.data.synthetic_seg import build_synthetic_segmentation

    image_dir, label_dir = build_synthetic_segmentation()["val"]
    hues = {k: [] for k in range(1, len(CLASSES))}
    for label_path in sorted(label_dir.glob("*.png"))[:12]:
        label = np.asarray(Image.open(label_path))
        hue = rgb_to_hsv(np.asarray(Image.open(image_dir / label_path.name), dtype=float) / 255)[..., 0]
        for k in hues:
            hues[k].append(hue[label == k])
    for k, values in hues.items():
        values = np.concatenate(values)
        assert values.size > 500, CLASSES[k]
        inside = ((values >= (k - 1) / 4) & (values < k / 4)).mean()
        assert inside > 0.99, (CLASSES[k], inside)


def _write_label(path: Path, values: np.ndarray) -> str:
    Image.fromarray(values.astype(np.uint8)).save(path)
    return str(path)


def test_a_label_value_outside_the_classes_is_refused_naming_file_and_value(tmp_path):
    rng = np.random.default_rng(0)
    good = rng.integers(0, 5, (20, 30))
    good[:3] = 255
    np.testing.assert_array_equal(read_checked_label(_write_label(tmp_path / "a.png", good), 5, 255), good)
    bad = good.copy()
    bad[7, 9] = 7
    path = _write_label(tmp_path / "b.png", bad)
    with pytest.raises(LabelError, match=rf"label map {path} holds the value 7, neither a class id \(0-4\)"):
        read_checked_label(path, 5, 255)


def test_the_trainers_evaluator_scores_a_perfect_prediction_at_100_miou(tmp_path):
    """``SemSegEvaluator`` reads ground truth through the trainer's checked loader (it passes ``dtype``):
    predicting each label map exactly gives mIoU 100, one wrong class lowers it."""
    import torch
    from detectron2.data import DatasetCatalog

    from fan_det.data.register import register_tiny_datasets
    from fan_det.detection.config import add_fan_config
    from fan_det.segmentation.trainer import SegmentationTrainer

    register_tiny_datasets()
    from detectron2.config import get_cfg

    cfg = add_fan_config(get_cfg())
    cfg.OUTPUT_DIR = str(tmp_path)
    dicts = DatasetCatalog.get("fan_synth_seg_val")[:3]
    scores = []
    for wrong in (False, True):
        evaluator = SegmentationTrainer.build_evaluator(cfg, "fan_synth_seg_val", str(tmp_path / str(wrong)))
        evaluator.reset()
        for d in dicts:
            label = torch.as_tensor(np.asarray(Image.open(d["sem_seg_file_name"]), dtype=np.int64))
            pred = label.clamp(max=len(CLASSES) - 1)
            if wrong:
                pred = torch.where(pred == 1, torch.full_like(pred, 2), pred)
            logits = torch.nn.functional.one_hot(pred, len(CLASSES)).permute(2, 0, 1).float()
            evaluator.process([d], [{"sem_seg": logits}])
        scores.append(evaluator.evaluate()["sem_seg"]["mIoU"])
    assert scores[0] == pytest.approx(100.0)
    assert scores[1] < 90.0


def make_cityscapes(root: Path, train_ids: bool) -> None:
    """A two-image Cityscapes-shaped root (one city per split)."""
    for split in ("train", "val"):
        for city, stem in (("aachen", "aachen_000000_000019"),):
            (root / "leftImg8bit" / split / city).mkdir(parents=True)
            (root / "gtFine" / split / city).mkdir(parents=True)
            Image.new("RGB", (16, 8)).save(root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png")
            gt = root / "gtFine" / split / city
            Image.new("L", (16, 8)).save(gt / f"{stem}_gtFine_labelIds.png")
            Image.new("L", (16, 8)).save(gt / f"{stem}_gtFine_instanceIds.png")
            (gt / f"{stem}_gtFine_polygons.json").write_text(json.dumps({"imgHeight": 8, "imgWidth": 16}))
            if train_ids:
                Image.new("L", (16, 8)).save(gt / f"{stem}_gtFine_labelTrainIds.png")


def test_cityscapes_root_without_train_ids_names_the_command(tmp_path):
    make_cityscapes(tmp_path / "cs", train_ids=False)
    problems, found = cityscapes_label_problems(tmp_path / "cs", {"train": 1, "val": 1})
    assert found == 2 and len(problems) == 2
    assert "1 of 1 train *_gtFine_labelTrainIds.png missing" in problems[0]
    assert "cityscapesscripts.preparation.createTrainIdLabelImgs" in problems[0]
    make_cityscapes(tmp_path / "ok", train_ids=True)
    assert cityscapes_label_problems(tmp_path / "ok", {"train": 1, "val": 1}) == ([], 2)
    problems, _ = cityscapes_label_problems(tmp_path / "ok")  # against the official counts
    assert problems == ["1 train images, expected 2,975", "1 val images, expected 500"]


def _run(args: list[str], env_root: Path | None = None) -> subprocess.CompletedProcess:
    import os

    env = dict(os.environ)
    if env_root is not None:
        env["DETECTRON2_DATASETS"] = str(env_root)
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=600)


def test_check_data_gives_one_verdict_for_a_cityscapes_root(tmp_path):
    make_cityscapes(tmp_path / "cs", train_ids=False)
    result = _run(["-m", "fan_det.check_data", "--cityscapes", str(tmp_path / "cs"), "--expect-count", "1"])
    assert result.returncode == 1
    assert "cityscapes: PROBLEMS" in result.stdout and "createTrainIdLabelImgs" in result.stdout
    make_cityscapes(tmp_path / "ok", train_ids=True)
    result = _run(["-m", "fan_det.check_data", "--cityscapes", str(tmp_path / "ok"), "--expect-count", "1"])
    assert result.returncode == 0 and "cityscapes: OK" in result.stdout


def test_training_on_a_root_without_train_ids_is_refused_in_one_line(tmp_path):
    make_cityscapes(tmp_path / "cityscapes", train_ids=False)
    config = REPO_ROOT / "configs" / "Cityscapes" / "segformer_fan_tiny_hybrid.yaml"
    result = _run(["-m", "fan_det.train", "--config", str(config), "MODEL.DEVICE", "cpu",
                   "OUTPUT_DIR", str(tmp_path / "out")], env_root=tmp_path)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: cityscapes_fine_sem_seg_train: ")
    assert "createTrainIdLabelImgs" in errors[0] and "Traceback" not in result.stderr
