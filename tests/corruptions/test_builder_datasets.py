"""load_images on a registered detectron2 dataset: where each output file goes, and the one-line refusals."""

from __future__ import annotations

import uuid

import pytest
from detectron2.data import DatasetCatalog, MetadataCatalog

from fan_det.corruptions import BuildError, load_images


@pytest.fixture
def register():
    """Register a throw-away dataset under a fresh name (removed after the test)."""
    names = []

    def add(loader, **meta) -> str:
        name = f"builder_inputs_{uuid.uuid4().hex[:8]}"
        DatasetCatalog.register(name, loader)
        if meta:
            MetadataCatalog.get(name).set(**meta)
        names.append(name)
        return name

    yield add
    for name in names:
        DatasetCatalog.remove(name)
        if name in MetadataCatalog.list():
            MetadataCatalog.remove(name)


def test_an_unknown_dataset_is_named_in_the_refusal():
    with pytest.raises(BuildError, match=r"^dataset 'no_such_set_x' is neither a COCO json file nor a "
                                         r"registered detectron2 dataset$"):
        load_images("no_such_set_x", None, "png")


def test_a_dataset_that_cannot_load_is_named_with_the_reason(register):
    def broken():
        raise OSError("annotations.json: no such file")

    name = register(broken)
    with pytest.raises(BuildError, match=rf"^cannot load dataset '{name}': annotations.json: no such file$"):
        load_images(name, None, "png")


def test_a_record_without_id_outside_the_image_folder_is_refused_with_its_path(register, tmp_path):
    source = tmp_path / "elsewhere" / "a.jpg"
    name = register(lambda: [{"file_name": str(source)}], image_root=str(tmp_path / "images"))
    with pytest.raises(BuildError, match=rf"^{source} has no image_id and is not inside"):
        load_images(name, None, "png")


def test_files_keep_their_path_inside_the_image_folder_and_only_their_name_outside_it(register, tmp_path):
    inside, outside = tmp_path / "images" / "city" / "b.jpg", tmp_path / "other" / "c.jpg"
    records = [{"file_name": str(inside), "image_id": 1}, {"file_name": str(outside), "image_id": 2}]
    name = register(lambda: records, image_root=str(tmp_path / "images"))
    entries = load_images(name, None, "png")
    assert [(e.image_id, e.source, e.file) for e in entries] == [(1, str(inside), "city/b.png"),
                                                                  (2, str(outside), "c.png")]


def test_without_any_image_folder_a_file_keeps_its_whole_path(register, tmp_path):
    """Two images of the same name in different folders must not share an output file."""
    first, second = tmp_path / "x" / "d.jpg", tmp_path / "y" / "d.jpg"
    records = [{"file_name": str(first), "image_id": 1}, {"file_name": str(second), "image_id": 2}]
    name = register(lambda: records)
    files = [e.file for e in load_images(name, None, "png")]
    assert files == [str(first.with_suffix(".png"))[1:], str(second.with_suffix(".png"))[1:]]


def test_an_image_root_given_overrides_the_datasets_own(register, tmp_path):
    inside = tmp_path / "images" / "city" / "b.jpg"
    name = register(lambda: [{"file_name": str(inside), "image_id": 1}], image_root=str(tmp_path / "images"))
    assert [e.file for e in load_images(name, tmp_path, "png")] == ["images/city/b.png"]
