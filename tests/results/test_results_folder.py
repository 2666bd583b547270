"""The ``--out`` folder rule on hand-written documents: what makes two documents the same run (each kind's
identity), what is returned for a rerun, and the whole refusal line for another model's or an unreadable
file, with its options named as a caller spells them."""

from __future__ import annotations

import json

import pytest

from fan_det.results import CocoOResult, OODResult, RobustnessResult
from fan_det.results.folder import OutputConflictError, results_of_same_model

MODEL = {"name": "fan-tiny", "backbone": "fan_tiny_12_p16_224", "config_sha256": "c1", "weights_sha256": "w1",
         "random_init": False, "spec": "s1", "checkpoint_sha256": "k1", "weights_path": "weights/model.pth"}


def _coco_o(**model) -> dict:
    domains = {d: {"num_images": 2, "seconds": 0.5, "stats": {"bbox": {"AP": ap}}}
               for d, ap in (("sketch", 12.5), ("tattoo", 7.25))}
    return CocoOResult.build(model={**MODEL, **model}, dataset={"name": "COCO-O"}, domains=domains,
                             provenance={}).doc


def _robustness(dataset: str = "coco_val", **model) -> dict:
    cells = [{"corruption": c, "severity": s, "num_images": 2, "seconds": 0.5, "stats": {"bbox": {"AP": ap}}}
             for c, s, ap in (("clean", 0, 31.5), ("fog", 1, 20.25))]
    return RobustnessResult.build(model={**MODEL, **model}, dataset={"name": dataset}, protocol={},
                                  cells=cells, allow_partial=True, provenance={}).doc


def _ood(preprocessing: dict | None = None, amp: bool = False, **model) -> dict:
    return OODResult.build(model={**MODEL, **model}, preprocessing=preprocessing or {"crop_pct": 0.875},
                           datasets={"imagenet-r": {"metrics": {"top1": 41.5}}}, provenance={},
                           evaluation={"amp": amp}).doc


def test_each_kind_names_what_makes_a_run_the_same_one():
    base = {"name": "fan-tiny", "backbone": "fan_tiny_12_p16_224", "config_sha256": "c1",
            "weights_sha256": "w1", "random_init": False}
    assert CocoOResult.identity(_coco_o()) == {"model": base}
    assert RobustnessResult.identity(_robustness()) == {"model": base, "dataset": "coco_val"}
    assert OODResult.identity(_ood()) == {
        "model": {"name": "fan-tiny", "spec": "s1", "backbone": "fan_tiny_12_p16_224",
                  "checkpoint_sha256": "k1", "weights_sha256": "w1"},
        "preprocessing": {"crop_pct": 0.875}, "amp": False}
    assert OODResult.identity({"model": {"name": "m"}}) == {
        "model": {"name": "m", **dict.fromkeys(("spec", "backbone", "checkpoint_sha256", "weights_sha256"))},
        "preprocessing": {}, "amp": None}
    assert CocoOResult.identity({}) == {"model": dict.fromkeys(base)}
    assert RobustnessResult.identity({"model": {}})["dataset"] is None


def _write(tmp_path, kind, doc: dict) -> None:
    (tmp_path / kind.FILE_NAME).write_text(json.dumps(doc))


def test_a_rerun_of_the_same_model_gets_its_document_and_nothing_is_returned_otherwise(tmp_path):
    assert results_of_same_model(CocoOResult, tmp_path, _coco_o(), overwrite=False) is None
    _write(tmp_path, CocoOResult, _coco_o(weights_path="elsewhere/model.pth"))
    previous = results_of_same_model(CocoOResult, tmp_path, _coco_o(), overwrite=False)
    assert isinstance(previous, CocoOResult)
    assert previous.stat()["per_domain"] == {"sketch": 12.5, "tattoo": 7.25}
    assert previous.path == tmp_path / "coco_o.json"
    assert results_of_same_model(CocoOResult, tmp_path, _coco_o(name="other"), overwrite=True) is None


def _conflict(tmp_path, kind, stored: dict, mine: dict) -> OutputConflictError:
    _write(tmp_path, kind, stored)
    with pytest.raises(OutputConflictError) as info:
        results_of_same_model(kind, tmp_path / ".", mine, overwrite=False)
    return info.value


@pytest.mark.parametrize(("kind", "stored", "mine", "differing"), [
    (CocoOResult, _coco_o(weights_sha256="w2"), _coco_o(), "model"),
    (RobustnessResult, _robustness(dataset="coco_c"), _robustness(), "dataset"),
    (RobustnessResult, _robustness(dataset="coco_c", random_init=True), _robustness(), "model and dataset"),
    (OODResult, _ood(preprocessing={"crop_pct": 1.0}), _ood(), "preprocessing"),
    (OODResult, _ood(amp=True), _ood(), "amp"),
    (OODResult, _ood(spec="s2", amp=True), _ood(), "model and amp"),
])
def test_another_models_results_are_refused_naming_what_differs(tmp_path, kind, stored, mine, differing):
    error = _conflict(tmp_path, kind, stored, mine)
    path = tmp_path / kind.FILE_NAME
    assert str(error) == (f"{path} holds results of model 'fan-tiny' with another {differing}; rerun with "
                          f"overwrite to replace it, or give each model its own out folder "
                          f"(e.g. {tmp_path.parent / 'NAME'})")
    assert error.folder == tmp_path and error.problem == str(error).split("; rerun")[0]


def test_an_unreadable_document_is_a_conflict_whose_options_a_caller_words(tmp_path):
    error = _conflict(tmp_path, CocoOResult, {"schema": "fan_det.ood/1"}, _coco_o())
    problem = f"{tmp_path / 'coco_o.json'}: is a fan_det.ood/1 file, expected fan_det.coco_o/1"
    assert error.problem == problem
    assert error.worded(lambda field: f"--{field}") == (
        f"{problem}; rerun with --overwrite to replace it, or give each model its own --out folder "
        f"(e.g. {tmp_path.parent / 'NAME'})")
    assert OutputConflictError.OPTIONS == ("overwrite", "out")
