"""The image key: COCO keeps its image ids (same seeds, same files, same dataset hash as before); a
semantic-segmentation set (no image_id, a label file per image) is keyed by relative path, its labels
are never corrupted, and its identity covers the label bytes."""

import hashlib
import json

import imagecorruptions
import numpy as np
import pytest
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data.datasets import register_coco_instances
from PIL import Image

from fan_det.corruptions import (
    CorruptedDatasetMapper,
    build_coco_c,
    corrupt,
    load_images,
    read_rgb,
    register_coco_c,
)
from fan_det.data.identity import ImageKeyError, dataset_identity, image_key

COCO = "fan_test_image_key_coco"
SEG = "fan_test_image_key_seg"


def old_seed(seed, image_id, corruption, severity):
    """The seeding rule COCO-C folders were built with, restated: sha256 of the text, 4 bytes LE."""
    text = f"fan_det.coco_c/v1|{seed}|{image_id}|{corruption}|{severity}".encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:4], "little")


@pytest.fixture(scope="module")
def coco(small_coco):
    json_path, image_root = small_coco
    if COCO not in DatasetCatalog.list():
        register_coco_instances(COCO, {}, str(json_path), str(image_root))
    return COCO


@pytest.fixture(scope="module")
def seg(tmp_path_factory):
    """A Cityscapes-like set: images in city folders, a label PNG each, dicts without image_id."""
    root = tmp_path_factory.mktemp("seg")
    rng = np.random.default_rng(5)
    dicts = []
    for i, city in enumerate(("aachen", "bern", "bern")):
        image, label = root / "img" / city / f"{i}.png", root / "gt" / city / f"{i}_labelIds.png"
        image.parent.mkdir(parents=True, exist_ok=True)
        label.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)).save(image)
        Image.fromarray(rng.integers(0, 19, (40, 56), dtype=np.uint8)).save(label)
        dicts.append({"file_name": str(image), "sem_seg_file_name": str(label), "height": 40, "width": 56})
    if SEG not in DatasetCatalog.list():
        DatasetCatalog.register(SEG, lambda: [dict(d) for d in dicts])
        MetadataCatalog.get(SEG).set(image_dir=str(root / "img"), gt_dir=str(root / "gt"))
    return root


def test_coco_images_keep_their_ids_so_seeds_and_mapped_pixels_are_as_before(coco):
    mapper = CorruptedDatasetMapper(is_train=False, augmentations=[], image_format="BGR",
                                    corruption="gaussian_noise", severity=3, seed=7)
    for d in DatasetCatalog.get(coco)[:2]:
        assert image_key(d) == d["image_id"]
        rgb = read_rgb(d["file_name"])
        state = np.random.get_state()
        np.random.seed(old_seed(7, d["image_id"], "gaussian_noise", 3))
        expected = np.uint8(imagecorruptions.corrupt(rgb, 3, "gaussian_noise"))
        np.random.set_state(state)
        image = mapper(d)["image"].numpy().transpose(1, 2, 0)[:, :, ::-1]  # BGR back to RGB
        np.testing.assert_array_equal(image, expected)


def test_a_coco_manifest_keys_images_by_id_and_the_dataset_hash_is_unchanged(coco, tmp_path):
    entries = load_images(coco, None, "png")
    build_coco_c(entries[:2], tmp_path, ("fog",), (1,), progress=False)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    dicts = DatasetCatalog.get(coco)
    assert sorted(manifest["images"]) == sorted(str(d["image_id"]) for d in dicts[:2])
    old = [(d["image_id"], d["file_name"].split("/")[-1], d.get("annotations", [])) for d in dicts]
    old_hash = hashlib.sha256(json.dumps(old, sort_keys=True, default=str).encode()).hexdigest()
    assert dataset_identity(coco) == (len(dicts), old_hash)


def test_without_image_id_the_key_is_the_path_inside_the_image_folder(seg):
    (first, *_) = DatasetCatalog.get(SEG)
    assert image_key(first, seg / "img") == "aachen/0.png"
    with pytest.raises(ImageKeyError, match="no image folder"):
        image_key(first)
    with pytest.raises(ImageKeyError, match="not inside"):
        image_key(first, seg / "gt")


def test_segmentation_labels_pass_through_the_corruption_untouched(seg):
    mapper = CorruptedDatasetMapper(is_train=False, augmentations=[], image_format="RGB", corruption="fog",
                                    severity=4, seed=0, root=str(seg / "img"))
    for d in DatasetCatalog.get(SEG):
        out = mapper(d)
        label = np.asarray(Image.open(d["sem_seg_file_name"]))
        np.testing.assert_array_equal(out["sem_seg"].numpy(), label)
        key = d["file_name"].removeprefix(str(seg / "img") + "/")
        expected = corrupt(read_rgb(d["file_name"]), "fog", 4, seed=0, key=key)
        np.testing.assert_array_equal(out["image"].numpy().transpose(1, 2, 0), expected)
        assert not np.array_equal(expected, read_rgb(d["file_name"]))


def test_a_materialised_segmentation_cell_is_found_by_path_and_keeps_its_labels(seg, tmp_path):
    entries = load_images(SEG, None, "png")
    assert [e.image_id for e in entries] == ["aachen/0.png", "bern/1.png", "bern/2.png"]
    build_coco_c(entries, tmp_path, ("fog",), (4,), progress=False)
    (name,) = register_coco_c(SEG, tmp_path, ["fog"], [4])
    mapper = CorruptedDatasetMapper(is_train=False, augmentations=[], image_format="RGB", corruption="fog",
                                    severity=4, seed=0, root=str(seg / "img"))
    for cell, base in zip(DatasetCatalog.get(name), DatasetCatalog.get(SEG), strict=True):
        assert cell["sem_seg_file_name"] == base["sem_seg_file_name"]
        np.testing.assert_array_equal(read_rgb(cell["file_name"]),
                                      mapper(base)["image"].numpy().transpose(1, 2, 0))


def test_the_identity_of_a_segmentation_set_covers_its_label_bytes(seg):
    before = dataset_identity(SEG)
    label = DatasetCatalog.get(SEG)[1]["sem_seg_file_name"]
    values = np.asarray(Image.open(label)).copy()
    values[0, 0] = (values[0, 0] + 1) % 19
    Image.fromarray(values).save(label)
    after = dataset_identity(SEG)
    assert before[0] == after[0] == 3 and before[1] != after[1]
