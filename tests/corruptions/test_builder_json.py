"""load_images on a COCO json: the refusals' whole lines (unreadable or absent, not a COCO json, an image
entry without id or file name, no image root, two images with one key or output file) and where each
output file goes (inside ``out``, any extension swapped, Windows separators read as folders)."""

from __future__ import annotations

import json

import pytest

from fan_det.corruptions import BuildError, load_images
from fan_det.corruptions.builder import output_file


def refusal(path, image_root="images") -> str:
    with pytest.raises(BuildError) as info:
        load_images(str(path), image_root, "png")
    return str(info.value)


def test_an_unreadable_json_is_named_with_the_reason(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{")
    assert refusal(path) == (f"cannot read COCO json {path}: Expecting property name enclosed in double "
                             "quotes: line 1 column 2 (char 1)")


@pytest.mark.parametrize("content", [[], {"images": 3}, {"annotations": []}])
def test_a_json_that_is_no_coco_json_names_the_fix(tmp_path, content):
    path = tmp_path / "x.json"
    path.write_text(json.dumps(content))
    assert refusal(path) == (f"{path} is not a COCO json (an object with an \"images\" list): pass a COCO "
                             "instances file")


@pytest.mark.parametrize("entry", [["id", "file_name"], {"file_name": "b.jpg"}, {"id": 2},
                                   {"id": 2, "file_name": 7}])
def test_an_image_without_id_or_file_name_is_named_by_its_index(tmp_path, entry):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.jpg"}, entry]}))
    assert refusal(path) == (f"{path}: images[1] lacks \"id\" or \"file_name\": fix the json or pass the "
                             "COCO instances file")


def test_a_coco_json_needs_its_image_root(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.jpg"}]}))
    assert refusal(path, None) == "--image-root is required when --dataset is a COCO json file"


def test_output_files_stay_inside_out_with_the_formats_extension():
    assert output_file("val/a.jpg", "png") == "val/a.png"
    assert output_file("val\\sub\\a.jpg", "jpg") == "val/sub/a.jpg"
    assert output_file("a", "png") == "a.png"
    for name in ("/abs/a.jpg", "../a.jpg", "val/../../a.jpg", "", "val/.."):
        with pytest.raises(BuildError) as info:
            output_file(name, "png")
        assert str(info.value) == f"file_name {name!r} must be a relative path inside the image root"


def test_an_absent_json_is_read_as_a_coco_json_not_looked_up_as_a_dataset_name(tmp_path):
    path = tmp_path / "instances.json"
    assert refusal(path) == f"cannot read COCO json {path}: [Errno 2] No such file or directory: '{path}'"


@pytest.mark.parametrize(("images", "shared"), [
    ([{"id": 1, "file_name": "a.jpg"}, {"id": 1, "file_name": "b.jpg"}], "image_id '1'"),
    ([{"id": 1, "file_name": "a.jpg"}, {"id": 2, "file_name": "a.png"}], "file 'a.png'"),
])
def test_two_images_sharing_a_key_or_an_output_file_are_named(tmp_path, images, shared):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"images": images}))
    first, second = (tmp_path / "images" / im["file_name"] for im in images)
    assert refusal(path, tmp_path / "images") == f"two images share the {shared}: {first}, {second}"
