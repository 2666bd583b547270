"""On the fly equals materialised: the mapper's image is the COCO-C file; cells register with annotations."""

import numpy as np
import pytest
from detectron2.config import get_cfg
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data import transforms as T
from detectron2.data.datasets import register_coco_instances
from PIL import Image

from fan_det.corruptions import CorruptedDatasetMapper, build_coco_c, load_images, read_rgb, register_coco_c

BASE = "fan_test_coco_c_small"
CELLS = (("glass_blur", 2), ("snow", 5))


@pytest.fixture(scope="module")
def built(small_coco, tmp_path_factory):
    json_path, image_root = small_coco
    if BASE not in DatasetCatalog.list():
        register_coco_instances(BASE, {}, str(json_path), str(image_root))
    out = tmp_path_factory.mktemp("d2") / "coco_c"
    entries = load_images(BASE, None, "png")  # through detectron2's registry this time
    for corruption, severity in CELLS:
        build_coco_c(entries, out, (corruption,), (severity,), progress=False)
    return out


def stored_name(dataset_dict):
    return dataset_dict["file_name"].split("/")[-1].replace(".jpg", ".png")


def test_mapper_output_equals_materialised_file(built):
    for corruption, severity in CELLS:
        mapper = CorruptedDatasetMapper(is_train=False, augmentations=[], image_format="RGB",
                                        corruption=corruption, severity=severity, seed=0)
        for d in DatasetCatalog.get(BASE):
            image = mapper(d)["image"].numpy().transpose(1, 2, 0)
            stored = np.asarray(Image.open(built / corruption / str(severity) / stored_name(d)))
            np.testing.assert_array_equal(image, stored)


def test_mapper_from_config_corrupts_in_rgb_then_converts_and_resizes(built):
    cfg = get_cfg()
    cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.FORMAT = 64, "BGR"
    d = DatasetCatalog.get(BASE)[1]
    mapper = CorruptedDatasetMapper(cfg, is_train=False, corruption="snow", severity=5, seed=0)
    assert (mapper.corruption, mapper.severity, mapper.seed) == ("snow", 5, 0)
    out = mapper(d)
    stored = np.asarray(Image.open(built / "snow" / "5" / stored_name(d)))
    bgr = np.ascontiguousarray(stored[:, :, ::-1])
    expected = T.ResizeShortestEdge(64, cfg.INPUT.MAX_SIZE_TEST).get_transform(bgr).apply_image(bgr)
    np.testing.assert_array_equal(out["image"].numpy().transpose(1, 2, 0), expected)
    assert min(out["image"].shape[1:]) == 64 and "annotations" not in out
    clean = CorruptedDatasetMapper(is_train=False, augmentations=[], image_format="RGB", severity=0)(d)
    np.testing.assert_array_equal(clean["image"].numpy().transpose(1, 2, 0), read_rgb(d["file_name"]))
    with pytest.raises(ValueError, match="unknown corruption"):
        CorruptedDatasetMapper(cfg, is_train=False, corruption="fgo", severity=1)


def test_registered_cells_point_at_the_files_with_the_original_annotations(built):
    names = register_coco_c(BASE, built)
    assert names == [f"{BASE}_glass_blur_2", f"{BASE}_snow_5"]
    assert register_coco_c(BASE, built, ["snow"], [5]) == [f"{BASE}_snow_5"]  # idempotent
    base = DatasetCatalog.get(BASE)
    cell = DatasetCatalog.get(f"{BASE}_snow_5")
    assert [d["image_id"] for d in cell] == [d["image_id"] for d in base]
    for ours, theirs in zip(cell, base, strict=True):
        assert ours["file_name"].startswith(str(built / "snow" / "5")) and ours["file_name"].endswith(".png")
        assert ours["annotations"] == theirs["annotations"] and ours["annotations"]
        assert Image.open(ours["file_name"]).size == (theirs["width"], theirs["height"])
    meta = MetadataCatalog.get(f"{BASE}_snow_5")
    assert meta.thing_classes == MetadataCatalog.get(BASE).thing_classes
    assert meta.json_file == MetadataCatalog.get(BASE).json_file
    assert (meta.corruption, meta.severity) == ("snow", 5)
    with pytest.raises(FileNotFoundError, match="fog/1 is not built"):
        register_coco_c(BASE, built, ["fog"], [1])


def test_registering_a_cell_again_from_another_folder_points_at_that_folder(built, tmp_path):
    """A second registration of the same cell name must not keep serving the first folder's files."""
    register_coco_c(BASE, built, ["snow"], [5])
    build_coco_c(load_images(BASE, None, "png"), tmp_path, ("snow",), (5,), progress=False)
    (name,) = register_coco_c(BASE, tmp_path, ["snow"], [5])
    assert all(d["file_name"].startswith(str(tmp_path / "snow" / "5")) for d in DatasetCatalog.get(name))
    assert MetadataCatalog.get(name).coco_c_root == str(tmp_path)


def test_a_partly_built_cell_is_refused_unless_missing_images_are_allowed(built, tmp_path):
    entries = load_images(BASE, None, "png")
    build_coco_c(entries[:2], tmp_path, ("fog",), (1,), progress=False)
    (name,) = register_coco_c(BASE, tmp_path, ["fog"], [1])
    with pytest.raises(FileNotFoundError, match="2 images of"):
        DatasetCatalog.get(name)
    DatasetCatalog.remove(name)
    MetadataCatalog.remove(name)
    register_coco_c(BASE, tmp_path, ["fog"], [1], allow_missing=True)
    assert [d["image_id"] for d in DatasetCatalog.get(name)] == [e.image_id for e in entries[:2]]
