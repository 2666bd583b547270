"""Report inputs' refusals and merge notes, each line whole: files not found, a file of another kind, one
model's runs with other numbers, detection results on other datasets, OOD results on other image counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from report_fixtures import FIXTURES, coco_o_file, load_fixture

from fan_det.report.inputs import (
    ReportInputError,
    find_result_files,
    merge_detection,
    merge_ood,
    read_all,
    read_result,
)

FLAGS = {"robustness": "--detection", "ood": "--ood"}


def write(path: Path, doc: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


def refusal(call, *args) -> str:
    with pytest.raises(ReportInputError) as info:
        call(*args)
    return str(info.value)


def test_a_missing_path_and_an_empty_folder_are_named(tmp_path):
    missing = tmp_path / "nope"
    assert refusal(find_result_files, missing, "robustness") == f"{missing}: no such file or folder"
    assert refusal(find_result_files, tmp_path, "ood") == f"no ood.json under {tmp_path}"


def test_a_folder_gives_its_results_files_sorted_and_a_file_itself(tmp_path):
    b = write(tmp_path / "b" / "ood.json", {})
    a = write(tmp_path / "a" / "deeper" / "ood.json", {})
    write(tmp_path / "a" / "robustness.json", {})
    assert find_result_files(tmp_path, "ood") == [a, b]
    assert find_result_files(str(b), "robustness") == [b]


def test_each_argument_is_read_as_its_kind_in_order(tmp_path):
    ood = write(tmp_path / "x" / "ood.json", load_fixture("ood_effnet.json"))
    files = read_all([FIXTURES / "ood_fan.json", tmp_path], "ood", FLAGS)
    assert [(rf.path, rf.model_name) for rf in files] == [
        (FIXTURES / "ood_fan.json", "fan_tiny_8_p4_hybrid"), (ood, "efficientnet_lite0")]
    assert [rf.notes for rf in files] == [[], []]


def test_a_file_of_another_kind_names_the_flag_that_reads_it():
    bare = refusal(read_result, FIXTURES / "ood_fan.json", "robustness", {})
    assert bare.startswith(str(FIXTURES / "ood_fan.json")) and "pass it with" not in bare
    named = refusal(read_result, FIXTURES / "ood_fan.json", "robustness", FLAGS)
    assert named == bare + "; pass it with --ood"


def test_one_model_with_other_numbers_is_refused_naming_both_files(tmp_path):
    first = coco_o_file(tmp_path / "a", "fan", "fan_tiny", [31.5, 20.25, 18.0, 12.75, 25.5, 14.0])
    second = coco_o_file(tmp_path / "b", "fan", "fan_tiny", [31.5, 20.25, 18.0, 12.75, 25.5, 9.5])
    files = read_all([first, second], "coco_o", FLAGS)
    assert refusal(merge_detection, files) == (
        f"detection model 'fan' appears twice with different numbers ({first} and {second}); keep one, or "
        "give the runs different model names")


def test_one_model_with_other_settings_is_refused_naming_the_setting(tmp_path):
    first = coco_o_file(tmp_path / "a", "fan", "fan_tiny", [31.5, 20.25, 18.0, 12.75, 25.5, 14.0])
    second = coco_o_file(tmp_path / "b", "fan", "fan_small", [31.5, 20.25, 18.0, 12.75, 25.5, 14.0])
    assert refusal(merge_detection, read_all([first, second], "coco_o", FLAGS), "COCO-O") == (
        f"COCO-O model 'fan' appears in {first} and {second} with other settings (model.backbone: "
        '"fan_tiny" vs "fan_small"); runs that differ are different models: give them different '
        "names (--name)")


def test_detection_results_on_other_datasets_are_listed_file_by_file(tmp_path):
    base = load_fixture("det_baseline.json")
    base["dataset"]["num_images"] = 16
    other = write(tmp_path / "b" / "robustness.json", base)
    files = read_all([FIXTURES / "det_fan.json", FIXTURES / "det_partial.json", other], "robustness", FLAGS)
    assert refusal(merge_detection, files, "COCO-O") == (
        "COCO-O results are on different datasets, so not comparable: "
        f"{FIXTURES / 'det_fan.json'}: fan_synth_val (8 images); "
        f"{FIXTURES / 'det_partial.json'}: fan_synth_val (8 images); {other}: fan_synth_val (16 images)")
    base["dataset"].update(num_images=8, name="other_val")
    write(other, base)
    files = read_all([FIXTURES / "det_fan.json", other], "robustness", FLAGS)
    assert "other_val (8 images)" in refusal(merge_detection, files)


def test_detection_runs_of_one_dataset_merge_in_order_with_the_duplicate_noted(tmp_path):
    copy = write(tmp_path / "copy" / "robustness.json", load_fixture("det_fan.json"))
    files = read_all([FIXTURES / "det_fan.json", FIXTURES / "det_baseline.json", copy], "robustness", FLAGS)
    merged = merge_detection(files)
    assert [rf.model_name for rf in merged] == ["fan_tiny_8_p4_hybrid retinanet", "resnet50 retinanet"]
    assert [rf.notes for rf in merged] == [[f"identical result also in {copy}"], []]
    assert merged[0] is files[0]


def ood_split(tmp_path: Path, second_change=lambda d: None) -> tuple[Path, Path]:
    """efficientnet_lite0's ImageNet-A and ImageNet-R runs in two files."""
    doc = load_fixture("ood_effnet.json")
    first = {**doc, "datasets": {"imagenet-a": doc["datasets"]["imagenet-a"]}}
    second = json.loads(json.dumps({**doc, "datasets": {"imagenet-r": doc["datasets"]["imagenet-r"]}}))
    second_change(second)
    return write(tmp_path / "a" / "ood.json", first), write(tmp_path / "r" / "ood.json", second)


def test_ood_runs_merge_dataset_by_dataset_without_changing_the_files_read(tmp_path):
    first, second = ood_split(tmp_path)
    files = read_all([first, second, FIXTURES / "ood_fan.json"], "ood", FLAGS)
    merged = merge_ood(files)
    assert [rf.model_name for rf in merged] == ["efficientnet_lite0", "fan_tiny_8_p4_hybrid"]
    assert [rf.notes for rf in merged] == [[f"imagenet-r from {second}"], []]
    assert list(merged[0].doc["datasets"]) == ["imagenet-a", "imagenet-r"]
    assert merged[0].path == first
    assert list(files[0].doc["datasets"]) == ["imagenet-a"]  # the merge works on a copy


def test_one_ood_model_with_two_results_on_one_dataset_is_refused(tmp_path):
    def also_a(doc):
        a = json.loads(json.dumps(load_fixture("ood_effnet.json")["datasets"]["imagenet-a"]))
        a["metrics"]["top1"] = 10.0 if a["metrics"]["top1"] != 10.0 else 11.0
        a["metrics"].pop("top1_ci", None)
        doc["datasets"]["imagenet-a"] = a

    first, second = ood_split(tmp_path, also_a)
    files = read_all([first, second], "ood", FLAGS)
    assert refusal(merge_ood, files) == (f"OOD model 'efficientnet_lite0' has two different results on "
                                         f"imagenet-a ({first} and {second}); keep one")


def test_ood_image_counts_that_differ_are_listed_model_by_model(tmp_path):
    doc = load_fixture("ood_fan.json")
    doc["datasets"] = {"imagenet-a": doc["datasets"]["imagenet-a"]}
    doc["datasets"]["imagenet-a"]["num_images"] = 9
    fan = write(tmp_path / "fan" / "ood.json", doc)
    files = read_all([FIXTURES / "ood_effnet.json", fan], "ood", FLAGS)
    assert refusal(merge_ood, files) == (
        "imagenet-a was evaluated on different image counts (efficientnet_lite0: 6 images, "
        "fan_tiny_8_p4_hybrid: 9 images); models must see the same images to be compared")


def test_one_ood_model_with_other_settings_is_refused_naming_the_setting(tmp_path):
    first, second = ood_split(tmp_path, lambda d: d["preprocessing"].update(crop_pct=1.0))
    assert refusal(merge_ood, read_all([first, second], "ood", FLAGS)) == (
        f"OOD model 'efficientnet_lite0' appears in {first} and {second} with other settings "
        "(preprocessing.crop_pct: 0.875 vs 1.0); runs that differ are different models: give them different "
        "names (--name)")


def test_a_dataset_in_two_runs_with_the_same_numbers_is_kept_once(tmp_path):
    def also_a(doc):
        doc["datasets"]["imagenet-a"] = load_fixture("ood_effnet.json")["datasets"]["imagenet-a"]

    first, second = ood_split(tmp_path, also_a)
    merged = merge_ood(read_all([first, second], "ood", FLAGS))
    assert list(merged[0].doc["datasets"]) == ["imagenet-a", "imagenet-r"]
    assert merged[0].notes == [f"imagenet-r from {second}", f"identical imagenet-a result also in {second}"]
