"""eval_coco_c under --skip-bad: an unreadable image is left out of every cell with its ground truth (the
result equals evaluating a dataset from which the test removed it by hand), recorded with its path in the
results and the provenance, and part of the cache key (a rerun after fixing the file evaluates again); an
image a materialised COCO-C's build skipped is left out of every cell, the clean one too; --strict, or no
--skip-bad, refuses every skip in one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from reliability_skip_bad_helpers import cell_events, coco_subset, register_coco, truncate

from fan_det.eval_coco_c import main as eval_coco_c
from fan_det.results import RobustnessResult

IMAGES = 6
BAD = 2  # position of the unreadable image; it holds annotations (asserted)


def _args(trained, dataset: str, out: Path, *extra: str) -> list[str]:
    return ["--config", str(trained.config), "--weights", str(trained.weights), "--dataset", dataset,
            "--corruptions", "fog", "--severities", "1", "--allow-partial", "--workers", "0",
            "--threads", "1", "--out", str(out), *extra]


def _stats(doc: dict) -> dict:
    return {(c["corruption"], c["severity"]): c["stats"] for c in doc["cells"]}


@pytest.fixture(scope="module")
def skipped_run(trained_tiny_retinanet, tmp_path_factory):
    """A copy of the first images of the tiny val set with one image truncated, evaluated with --skip-bad;
    the same set with that image and its annotations removed by hand, evaluated without it."""
    root = tmp_path_factory.mktemp("skip_bad")
    full, images, entries = coco_subset(root / "full", IMAGES)
    bad = images / entries["images"][BAD]["file_name"]
    assert any(a["image_id"] == entries["images"][BAD]["id"] for a in entries["annotations"])
    original = bad.read_bytes()
    truncate(bad)
    by_hand = root / "by_hand.json"
    gone = entries["images"][BAD]["id"]
    by_hand.write_text(json.dumps({
        **entries, "images": [i for i in entries["images"] if i["id"] != gone],
        "annotations": [a for a in entries["annotations"] if a["image_id"] != gone]}))
    names = register_coco(root.name, full=full, by_hand=by_hand, image_root=images)
    eval_coco_c(_args(trained_tiny_retinanet, names["full"], root / "out", "--skip-bad", "--bootstrap", "20"))
    eval_coco_c(_args(trained_tiny_retinanet, names["by_hand"], root / "by_hand_out", "--bootstrap", "20"))
    return {"root": root, "bad": bad, "original": original, "names": names, "images": images,
            "full": full, "trained": trained_tiny_retinanet}


def test_a_skipped_image_is_recorded_and_scored_as_if_removed_by_hand(skipped_run):
    root, bad = skipped_run["root"], skipped_run["bad"]
    doc = RobustnessResult.load(root / "out" / "robustness.json").doc
    by_hand = RobustnessResult.load(root / "by_hand_out" / "robustness.json").doc
    assert doc["dataset"]["skipped"] == [str(bad)] and doc["dataset"]["num_skipped"] == 1
    assert doc["provenance"]["skipped"] == [str(bad)] and doc["provenance"]["unreadable_images"] == "skip"
    assert [c["num_images"] for c in doc["cells"]] == [IMAGES - 1] * 2
    assert _stats(doc) == _stats(by_hand)
    assert doc["summary"] == by_hand["summary"]  # the bootstrap intervals too: same images, same seed
    assert doc["cells"][0]["stats"]["bbox"]["AP"] > 0  # a score the image's missed objects would lower


def test_fixing_the_file_evaluates_every_cell_again(skipped_run, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(skipped_run["root"] / "out", out)
    before = RobustnessResult.load(out / "robustness.json").doc
    skipped_run["bad"].write_bytes(skipped_run["original"])
    try:
        eval_coco_c(_args(skipped_run["trained"], skipped_run["names"]["full"], out, "--skip-bad"))
    finally:
        truncate(skipped_run["bad"])
    after = RobustnessResult.load(out / "robustness.json").doc
    runs = cell_events(out)
    assert len(runs) == 2 and all(events == {"evaluated": {"clean-0", "fog-1"}} for events in runs.values())
    keys = [json.loads((out / "cells" / k / "key.json").read_text())["dataset"].get("skipped") for k in runs]
    assert sorted(keys, key=str) == [None, [str(BAD + 1)]]  # the image id of the skipped image
    assert "skipped" not in after["dataset"] and "skipped" not in after["provenance"]
    assert [c["num_images"] for c in after["cells"]] == [IMAGES] * 2
    assert after["cells"][0]["stats"]["bbox"]["AP"] != before["cells"][0]["stats"]["bbox"]["AP"]


def _refused(capsys, argv, *words) -> None:
    with pytest.raises(SystemExit) as info:
        eval_coco_c(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert info.value.code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert all(w in lines[0] for w in words), lines[0]


def test_without_skip_bad_the_cached_skip_does_not_count(skipped_run, tmp_path, capsys, monkeypatch):
    from fan_det.robustness import job

    out = tmp_path / "out"
    shutil.copytree(skipped_run["root"] / "out", out)
    monkeypatch.setattr(job, "run_job", lambda *a, **k: pytest.fail("inference started"))
    args = _args(skipped_run["trained"], skipped_run["names"]["full"], out)
    bad = skipped_run["bad"]
    _refused(capsys, args, f"cannot read image {bad}",
             "rerun with --skip-bad to skip it and record it as skipped")
    _refused(capsys, [*args, "--strict"], f"cannot read image {bad}")
    _refused(capsys, [*args, "--strict", "--skip-bad"], "--strict", "contradicts --skip-bad")


def test_an_image_the_build_skipped_is_left_out_of_every_cell(skipped_run, tmp_path, capsys):
    from fan_det.build_coco_c import main as build_coco_c

    bad, images = skipped_run["bad"], skipped_run["images"]
    built = tmp_path / "coco_c"
    assert build_coco_c(["--dataset", str(skipped_run["full"]), "--image-root", str(images), "--out",
                         str(built), "--corruptions", "fog", "--severities", "1", "--no-progress",
                         "--skip-bad"]) == 0
    bad.write_bytes(skipped_run["original"])  # readable again, but it has no corrupted copy
    try:
        args = _args(skipped_run["trained"], skipped_run["names"]["full"], tmp_path / "out", "--coco-c-root",
                     str(built))
        copy = built / "fog" / "1" / bad.name
        _refused(capsys, args, f"cannot read image {copy}", "not built", "rerun with --skip-bad")
        eval_coco_c([*args, "--skip-bad"])
    finally:
        truncate(bad)
    doc = RobustnessResult.load(tmp_path / "out" / "robustness.json").doc
    by_hand = RobustnessResult.load(skipped_run["root"] / "by_hand_out" / "robustness.json").doc
    assert doc["dataset"]["skipped"] == [str(copy)]
    assert [c["num_images"] for c in doc["cells"]] == [IMAGES - 1] * 2  # the clean cell too
    assert _stats(doc)[("clean", 0)] == _stats(by_hand)[("clean", 0)]


def test_eval_coco_o_scores_a_domain_without_its_skipped_image(trained_tiny_retinanet, tmp_path):
    from fan_det.data.coco_o import build_tiny_coco_o_set
    from fan_det.eval_coco_o import main as eval_coco_o
    from fan_det.results import CocoOResult

    source = build_tiny_coco_o_set() / "cartoon"
    entries = json.loads((source / "annotations" / "instances_val2017.json").read_text())
    kept = entries["images"][:IMAGES]
    gone = kept[BAD]["id"]
    assert any(a["image_id"] == gone for a in entries["annotations"])
    copies = {"full": [i["id"] for i in kept], "by_hand": [i["id"] for i in kept if i["id"] != gone]}
    for copy, ids in copies.items():  # the first images of one domain, copied (the shared set stays)
        domain = tmp_path / copy / "cartoon"
        (domain / "annotations").mkdir(parents=True)
        (domain / "val2017").mkdir()
        for image in kept:
            shutil.copy(source / "val2017" / image["file_name"], domain / "val2017" / image["file_name"])
        (domain / "annotations" / "instances_val2017.json").write_text(json.dumps({
            **entries, "images": [i for i in kept if i["id"] in ids],
            "annotations": [a for a in entries["annotations"] if a["image_id"] in ids]}))
    bad = tmp_path / "full" / "cartoon" / "val2017" / kept[BAD]["file_name"]
    truncate(bad)
    model = ["--config", str(trained_tiny_retinanet.config), "--weights", str(trained_tiny_retinanet.weights),
             "--domains", "cartoon", "--workers", "0", "--threads", "1"]
    eval_coco_o([*model, "--coco-o-root", str(tmp_path / "full"), "--skip-bad", "--bootstrap", "20",
                 "--out", str(tmp_path / "skip")])
    eval_coco_o([*model, "--coco-o-root", str(tmp_path / "by_hand"), "--bootstrap", "20",
                 "--out", str(tmp_path / "hand_out")])
    doc = CocoOResult.load(tmp_path / "skip" / "coco_o.json").doc
    expected = CocoOResult.load(tmp_path / "hand_out" / "coco_o.json").doc
    assert doc["dataset"]["domains"]["cartoon"]["skipped"] == [str(bad)]
    assert doc["provenance"]["skipped"] == [str(bad)]
    assert doc["domains"]["cartoon"]["num_images"] == IMAGES - 1
    assert doc["domains"]["cartoon"]["stats"] == expected["domains"]["cartoon"]["stats"]
    assert doc["domains"]["cartoon"]["stats"]["bbox"]["AP"] > 0  # missed objects would lower it
    assert doc["summary"] == expected["summary"]  # the bootstrap intervals too: same images, same seed
