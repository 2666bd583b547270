"""COCO-O's published layout is read as the authors ship it; the tiny restyled set has that layout."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fan_det.data.coco_o import CocoOLayoutError, build_tiny_coco_o, coco_o_layout, register_coco_o
from fan_det.data.real_photos import build_real_photos
from fan_det.protocol import COCO_O_DOMAINS


@pytest.fixture(scope="module")
def tiny_coco_o(tmp_path_factory):
    json_path, images = build_real_photos()
    root = build_tiny_coco_o(json_path, images, tmp_path_factory.mktemp("coco_o") / "coco_o")
    return root, json_path, images


def test_tiny_set_has_the_published_layout_same_boxes_and_restyled_pixels(tiny_coco_o):
    root, json_path, images = tiny_coco_o
    source = json.loads(json_path.read_text())
    layout = coco_o_layout(root)
    assert list(layout) == list(COCO_O_DOMAINS)
    first = source["images"][0]
    with Image.open(images / first["file_name"]) as img:
        original = np.asarray(img.convert("RGB"), dtype=np.int16)
    for domain, (ann, folder) in layout.items():
        data = json.loads(ann.read_text())
        assert data["annotations"] == source["annotations"]
        assert [im["id"] for im in data["images"]] == [im["id"] for im in source["images"]]
        files = sorted(p.name for p in folder.iterdir())
        assert files == sorted(im["file_name"] for im in data["images"])
        with Image.open(folder / data["images"][0]["file_name"]) as img:
            styled = np.asarray(img.convert("RGB"), dtype=np.int16)
        assert styled.shape == original.shape
        assert np.abs(styled - original).mean() > 5, f"{domain} left the photo nearly unchanged"


def test_registration_names_each_domain(tiny_coco_o):
    from detectron2.data import DatasetCatalog

    names = register_coco_o(tiny_coco_o[0], prefix="tiny_coco_o_test")
    assert names == {d: f"tiny_coco_o_test_{d}" for d in COCO_O_DOMAINS}
    assert len(DatasetCatalog.get(names["tattoo"])) == len(json.loads(tiny_coco_o[1].read_text())["images"])


def test_foreign_layouts_are_refused(tiny_coco_o, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(tiny_coco_o[0], root)
    (root / "sketches").mkdir()
    with pytest.raises(CocoOLayoutError, match="sketches are not COCO-O domains"):
        coco_o_layout(root)
    (root / "sketches").rmdir()
    (root / "cartoon" / "annotations" / "instances_val2017.json").unlink()
    with pytest.raises(CocoOLayoutError, match="cartoon: expected annotations/instances_val2017.json"):
        coco_o_layout(root)
    with pytest.raises(CocoOLayoutError, match="not a directory"):
        coco_o_layout(tmp_path / "nowhere")


def test_tiny_set_is_rebuilt_when_its_source_changes(tmp_path):
    """A source rebuilt under the same names must not leave the old restyled images in the cache."""
    json_path, images = build_real_photos()
    source_json, source_images = tmp_path / "source.json", tmp_path / "images"
    shutil.copy(json_path, source_json)
    shutil.copytree(images, source_images)
    out = build_tiny_coco_o(source_json, source_images, tmp_path / "coco_o")
    first = json.loads(source_json.read_text())["images"][0]["file_name"]
    restyled = out / "sketch" / "val2017" / Path(first).with_suffix(".png").name
    before = restyled.read_bytes()
    assert build_tiny_coco_o(source_json, source_images, tmp_path / "coco_o") == out
    assert restyled.read_bytes() == before  # unchanged source: built once
    with Image.open(source_images / first) as img:
        Image.fromarray(255 - np.asarray(img.convert("RGB"))).save(source_images / first)
    build_tiny_coco_o(source_json, source_images, tmp_path / "coco_o")
    assert restyled.read_bytes() != before
