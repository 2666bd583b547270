"""The OOD cache: the unreadable-image policy is never bypassed, new weights or files recompute, a
truncated entry is redone."""

from __future__ import annotations

import json
import shutil

from reliability_ood_helpers import TINY, assert_refused, class_folders, run_cli

from fan_det.results import OODResult


def _val(tmp_path):
    return class_folders(tmp_path / "val", {0: 2, 5: 2, 999: 1})


def test_a_cached_result_that_skipped_images_is_refused_without_skip_bad(tmp_path, capsys, counting):
    val = _val(tmp_path)
    broken = val / "n01440764" / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not a jpeg")
    args = ["--model", TINY, "--out", str(tmp_path / "out"), "--dataset", f"imagenet={val}"]
    assert run_cli([*args, "--skip-bad"], capsys)[0] == 0
    assert OODResult.load(tmp_path / "out" / "ood.json").datasets["imagenet"]["num_skipped"] == 1
    for refusing in ([], ["--strict"]):  # the default, and its former spelling
        code, err = run_cli([*args, *refusing], capsys)
        assert_refused(code, err, "broken.jpg", "--skip-bad")
    assert counting == ["imagenet"]  # the reruns were answered from the cache, and still refused


def test_new_weights_and_changed_files_are_evaluated_again(tmp_path, capsys, counting):
    val = _val(tmp_path)
    out = ["--out", str(tmp_path / "out"), "--dataset", f"imagenet={val}"]
    assert run_cli(["--model", "test_vit", "--seed", "0", *out], capsys)[0] == 0
    assert run_cli(["--model", "test_vit", "--seed", "0", *out], capsys)[0] == 0
    assert counting == ["imagenet"]
    assert run_cli(["--model", "test_vit", "--seed", "1", "--overwrite", *out], capsys)[0] == 0
    assert counting == ["imagenet"] * 2  # other (random) weights, other key
    class_folders(val, {7: 1}, seed=9)
    assert run_cli(["--model", "test_vit", "--seed", "1", *out], capsys)[0] == 0
    assert counting == ["imagenet"] * 3  # one more image
    assert OODResult.load(tmp_path / "out" / "ood.json").datasets["imagenet"]["num_images"] == 6
    shutil.rmtree(val / "n01440764")
    assert run_cli(["--model", "test_vit", "--seed", "1", *out], capsys)[0] == 0
    assert counting == ["imagenet"] * 4  # two fewer


def test_a_truncated_cache_entry_is_recomputed_with_a_warning(tmp_path, capsys, counting):
    val = _val(tmp_path)
    args = ["--model", TINY, "--out", str(tmp_path / "out"), "--dataset", f"imagenet={val}"]
    assert run_cli(args, capsys)[0] == 0
    first = OODResult.load(tmp_path / "out" / "ood.json").datasets
    (entry,) = (tmp_path / "out" / "cache").rglob("imagenet-*.npz")
    entry.write_bytes(entry.read_bytes()[: entry.stat().st_size // 2])
    code, err = run_cli(args, capsys)
    assert code == 0 and "unreadable" in err and entry.name in err
    assert counting == ["imagenet", "imagenet"]
    assert OODResult.load(tmp_path / "out" / "ood.json").datasets == first
    log = [json.loads(line)["event"] for line in (entry.parent / "log.jsonl").read_text().splitlines()]
    assert log == ["evaluated", "evaluated"]
