"""The tiny datasets: deterministic, valid COCO / ImageFolder, registered with the expected counts."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import pkgutil
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from fan_det.data.cocoeval import self_ap
from fan_det.data.ood_sets import build_ood_sets
from fan_det.data.real_photos import build_real_photos
from fan_det.data.synthetic import CLASSES, build_synthetic_detection
from fan_det.paths import raw_dir

# COCO 2017 category ids of the classes in the real photos (from the COCO annotation files).
REAL_COCO_IDS = {"person": 1, "car": 3, "bus": 6, "bottle": 44, "chair": 62, "couch": 63, "dining table": 67}


def tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def load_coco(path: Path) -> COCO:
    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(str(path))


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """A new, empty cache root that shares the already fetched raw files."""
    shared_raw = raw_dir()
    monkeypatch.setenv("FAN_DET_CACHE", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    os.symlink(shared_raw, tmp_path / "cache" / "raw")
    return tmp_path / "cache"


@pytest.mark.parametrize("builder", [build_synthetic_detection, build_real_photos, build_ood_sets])
def test_builders_are_deterministic(builder, fresh_cache, monkeypatch, tmp_path):
    builder()
    first = tree_digest(fresh_cache / "datasets")
    second_root = tmp_path / "again"
    second_root.mkdir()
    os.symlink(raw_dir(), second_root / "raw")
    monkeypatch.setenv("FAN_DET_CACHE", str(second_root))
    builder()
    assert first and first == tree_digest(second_root / "datasets")


def check_boxes_inside_images(coco: COCO) -> None:
    for ann in coco.dataset["annotations"]:
        image = coco.imgs[ann["image_id"]]
        x, y, w, h = ann["bbox"]
        assert w > 0 and h > 0
        assert 0 <= x and 0 <= y and x + w <= image["width"] and y + h <= image["height"], ann["id"]


def test_synthetic_set_is_valid_coco_with_exact_boxes():
    for split, (json_path, image_dir) in build_synthetic_detection().items():
        coco = load_coco(json_path)
        assert [c["name"] for c in coco.dataset["categories"]] == list(CLASSES)
        assert len(coco.imgs) == {"train": 300, "val": 60}[split]
        check_boxes_inside_images(coco)
        for ann in coco.dataset["annotations"][:80]:
            mask = mask_utils.decode(ann["segmentation"]).astype(bool)
            ys, xs = np.nonzero(mask)
            assert ann["bbox"] == [xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()]
            assert ann["area"] == mask.sum()
        for image in list(coco.imgs.values())[:5]:
            assert (image_dir / image["file_name"]).is_file()
            assert 256 <= image["height"] <= 320 and 256 <= image["width"] <= 320


def test_real_photo_set_uses_real_coco_ids_and_scores_ap_one_against_itself():
    json_path, image_dir = build_real_photos()
    coco = load_coco(json_path)
    assert {c["name"]: c["id"] for c in coco.dataset["categories"]} == REAL_COCO_IDS
    assert len(coco.imgs) == 4 and len(coco.anns) == 12 + 19
    check_boxes_inside_images(coco)
    assert all((image_dir / im["file_name"]).is_file() for im in coco.imgs.values())
    assert self_ap(json_path, "bbox") == 1.0
    assert self_ap(json_path, "segm") == 1.0


def test_self_ap_drops_when_a_box_is_wrong(tmp_path):
    json_path, _ = build_real_photos()
    data = json.loads(json_path.read_text())
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps(data))
    dets = [{"image_id": a["image_id"], "category_id": a["category_id"], "score": 1.0,
             "bbox": [a["bbox"][0] + a["bbox"][2] / 2, *a["bbox"][1:]]} for a in data["annotations"]]
    with contextlib.redirect_stdout(io.StringIO()):
        from pycocotools.cocoeval import COCOeval

        coco = COCO(str(gt))
        ev = COCOeval(coco, coco.loadRes(dets), "bbox")
        ev.evaluate(), ev.accumulate(), ev.summarize()
    assert ev.stats[0] < 0.5  # the self-AP check would catch a shifted box


def timm_synsets(file_name: str = "imagenet_synsets.txt") -> list[str]:
    """A synset list shipped with timm (``timm/data/_info``), in its order."""
    return pkgutil.get_data("timm.data", f"_info/{file_name}").decode().split()


def test_ood_sets_follow_the_published_layouts():
    wnids = timm_synsets()
    sets = build_ood_sets()
    counts = {name: len(list(root.rglob("*.jpg"))) for name, root in sets.items()}
    assert counts == {"imagenet-a": 6, "imagenet-r": 7, "imagenet-sketch": 20, "imagenet": 20,
                      "imagenet-v2": 20}
    for photo in sets["imagenet-v2"].rglob("*.jpg"):  # released ImageNetV2 layout: class-index folders
        assert photo.parent.name == photo.stem.split("_")[-1]
    subsets = (("imagenet-a", "imagenet_a_synsets.txt"), ("imagenet-r", "imagenet_r_synsets.txt"))
    for name, subset_file in subsets:
        assert {p.name for p in sets[name].iterdir()} <= set(timm_synsets(subset_file))
    for photo in sets["imagenet"].rglob("*.jpg"):
        class_index = int(photo.stem.split("_")[-1])
        assert photo.parent.name == wnids[class_index]


def test_registered_names_load_through_detectron2():
    from detectron2.data import DatasetCatalog, MetadataCatalog

    from fan_det.data.register import register_tiny_datasets

    register_tiny_datasets()
    register_tiny_datasets()  # idempotent
    expected = {"fan_synth_train": 300, "fan_synth_val": 60, "fan_synth_val_mini": 16, "fan_real_photos": 4}
    for name, images in expected.items():
        dicts = DatasetCatalog.get(name)
        assert len(dicts) == images
        assert all(Path(d["file_name"]).is_file() for d in dicts)
    real = DatasetCatalog.get("fan_real_photos")
    assert sum(len(d["annotations"]) for d in real) == 31
    assert MetadataCatalog.get("fan_real_photos").thing_classes == list(REAL_COCO_IDS)
    assert MetadataCatalog.get("fan_synth_val").thing_classes == list(CLASSES)
