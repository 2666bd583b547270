"""--out: another model's ood.json is never overwritten silently; the same model adds datasets."""

from __future__ import annotations

import pytest
from reliability_ood_helpers import TINY, assert_refused, class_folders, run_cli

from fan_det.results import OODResult


@pytest.fixture
def sets(tmp_path):
    return {"imagenet": class_folders(tmp_path / "val", {0: 2, 5: 1}),
            "imagenet-sketch": class_folders(tmp_path / "sketch", {3: 2}, seed=1)}


def test_another_models_results_are_refused_unless_overwrite(tmp_path, capsys, sets):
    out = tmp_path / "runs"
    val = f"imagenet={sets['imagenet']}"
    assert run_cli(["--model", TINY, "--out", str(out), "--dataset", val], capsys)[0] == 0
    before = (out / "ood.json").read_bytes()
    other = ["--model", "test_vit", "--out", str(out), "--dataset", val]
    code, err = run_cli(other, capsys)
    assert_refused(code, err, "tiny_random", "--overwrite", "its own --out folder")
    assert (out / "ood.json").read_bytes() == before
    assert run_cli([*other, "--overwrite"], capsys)[0] == 0
    assert OODResult.load(out / "ood.json").model["spec"] == "test_vit"


def test_a_different_display_name_is_another_model(tmp_path, capsys, sets):
    out = ["--model", TINY, "--out", str(tmp_path / "o"), "--dataset", f"imagenet={sets['imagenet']}"]
    assert run_cli(out, capsys)[0] == 0
    assert_refused(*run_cli([*out, "--name", "renamed"], capsys), "--overwrite")


def test_the_same_model_adds_and_updates_datasets(tmp_path, capsys, sets):
    out = ["--model", TINY, "--out", str(tmp_path / "o"), "--name", "tiny", "--backbone", "tiny_random.seed0"]
    assert run_cli([*out, "--dataset", f"imagenet={sets['imagenet']}"], capsys)[0] == 0
    first = OODResult.load(tmp_path / "o" / "ood.json")
    assert run_cli([*out, "--dataset", f"imagenet-sketch={sets['imagenet-sketch']}"], capsys)[0] == 0
    both = OODResult.load(tmp_path / "o" / "ood.json")
    assert list(both.datasets) == ["imagenet", "imagenet-sketch"]
    assert both.datasets["imagenet"] == first.datasets["imagenet"]
    assert (both.model["name"], both.model["backbone"]) == ("tiny", "tiny_random.seed0")


def test_out_that_is_a_file_is_refused(tmp_path, capsys, sets):
    (tmp_path / "taken").write_text("not a folder")
    code, err = run_cli(["--model", TINY, "--out", str(tmp_path / "taken"),
                         "--dataset", f"imagenet={sets['imagenet']}"], capsys)
    assert_refused(code, err, "is a file")


def test_default_out_is_a_folder_per_model_under_runs(tmp_path, capsys, sets, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("a b", "c"):
        code, _ = run_cli(["--model", TINY, "--name", name, "--dataset", f"imagenet={sets['imagenet']}"],
                          capsys)
        assert code == 0
    assert sorted(p.parent.name for p in (tmp_path / "runs" / "ood").glob("*/ood.json")) == ["a_b", "c"]


def test_earlier_datasets_follow_a_new_imagenet_val(tmp_path, capsys):
    """IN-200 numbers of an earlier ImageNet-R follow the ImageNet val this run evaluates, or are left out."""
    from fan_det.ood.synsets import subset_indices

    r_classes = [int(i) for i in subset_indices("imagenet-r")[:3]]
    r = class_folders(tmp_path / "r", {i: 2 for i in r_classes}, seed=1)
    val_a = class_folders(tmp_path / "val_a", {i: 1 for i in r_classes}, seed=2)
    val_b = class_folders(tmp_path / "val_b", {i: 3 for i in r_classes}, seed=3)
    model = ["--model", TINY]
    assert run_cli([*model, "--out", str(tmp_path / "o"), "--dataset", f"imagenet={val_a}",
                    "--dataset", f"imagenet-r={r}"], capsys)[0] == 0
    assert run_cli([*model, "--out", str(tmp_path / "o"), "--dataset", f"imagenet={val_b}"], capsys)[0] == 0
    assert run_cli([*model, "--out", str(tmp_path / "fresh"), "--dataset", f"imagenet={val_b}",
                    "--dataset", f"imagenet-r={r}"], capsys)[0] == 0
    merged, fresh = (OODResult.load(tmp_path / d / "ood.json") for d in ("o", "fresh"))
    assert merged.datasets == fresh.datasets
    assert merged.metrics("imagenet-r")["in200_top1_ci"] == fresh.metrics("imagenet-r")["in200_top1_ci"]
    for entry in (tmp_path / "o" / "cache").rglob("imagenet-r-*.npz"):
        entry.unlink()
    code, err = run_cli([*model, "--out", str(tmp_path / "o"), "--dataset", f"imagenet={val_a}"], capsys)
    assert code == 0 and "imagenet-r of the earlier run is not in the cache" in err
    r_metrics = OODResult.load(tmp_path / "o" / "ood.json").metrics("imagenet-r")
    assert "top1" in r_metrics and not {"in200_top1", "in200_top1_ci", "gap"} & set(r_metrics)
