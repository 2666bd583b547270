"""eval_ood refuses non-finite logits (a NaN scored 100% top-1) with one line naming the model, the
dataset and the batch, writing nothing for the run; a model returning ``(logits, aux)`` is scored on its
logits, and one returning something else is refused in one line."""

from __future__ import annotations

from reliability_models import AUX_CLASS
from reliability_ood_helpers import assert_refused, class_folders, run_cli

from fan_det.results import OODResult


def test_nan_logits_are_refused_naming_model_dataset_and_batch(tmp_path, capsys):
    val = class_folders(tmp_path / "val", {0: 2, 7: 2})
    out = tmp_path / "out"
    code, err = run_cli(["--model", "reliability_models:nan_logits", "--name", "nanny", "--batch-size", "1",
                         "--dataset", f"imagenet={val}", "--out", str(out)], capsys)
    # the first batch is finite, the second NaN: model, dataset and batch 2 are named
    assert_refused(code, err, "model nanny gave 1000 non-finite logits on imagenet, batch 2",
                   "nothing of this run was written")
    assert not (out / "ood.json").exists()
    assert not [p for p in out.rglob("*") if p.is_file() and p.suffix not in (".jsonl", ".json")]


def test_a_tuple_of_logits_and_aux_is_scored_on_its_logits(tmp_path, capsys):
    val = class_folders(tmp_path / "val", {AUX_CLASS: 3}, seed=5)
    code, err = run_cli(["--model", "reliability_models:with_aux", "--dataset", f"imagenet={val}",
                         "--out", str(tmp_path / "o")], capsys)
    assert code == 0, err
    assert OODResult.load(tmp_path / "o" / "ood.json").metrics("imagenet")["top1"] == 100.0  # not aux's 0


def test_a_model_returning_a_dict_is_refused_in_one_line(tmp_path, capsys):
    val = class_folders(tmp_path / "val", {0: 1})
    code, err = run_cli(["--model", "reliability_models:as_dict", "--dataset", f"imagenet={val}",
                         "--out", str(tmp_path / "o")], capsys)
    assert_refused(code, err, "returned dict, not logits", "a tuple whose first element is one")
