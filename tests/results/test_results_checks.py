"""The results layer's checks that examples elsewhere leave open: intervals built in and refused when
malformed, every refusal's words (they name the field and the file), the file's layout on disk."""

from __future__ import annotations

import json
import statistics

import numpy as np
import pytest

from fan_det.results import CocoOResult, OODResult, ResultsError, RobustnessResult
from fan_det.results.document import flat_items

DOMAINS = ["sketch", "cartoon", "painting", "weather", "handmake", "tattoo"]
BENCHMARK = ["gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur", "motion_blur",
             "zoom_blur", "snow", "frost", "fog", "brightness", "contrast", "elastic_transform", "pixelate",
             "jpeg_compression"]


def _coco_o(intervals=None) -> CocoOResult:
    rng = np.random.default_rng(0)
    domains = {d: {"num_images": 2, "seconds": 1.0, "stats": {"bbox": {"AP": float(rng.uniform(1, 30))}}}
               for d in DOMAINS}
    return CocoOResult.build(model={"name": "m"}, dataset={"root": "r"}, domains=domains, provenance={},
                             intervals=intervals)


def _robustness(intervals=None) -> RobustnessResult:
    rng = np.random.default_rng(1)
    cells = [{"corruption": c, "severity": s, "num_images": 4, "seconds": 0.1,
              "stats": {"bbox": {"AP": float(rng.uniform(1, 30))}}}
             for c, s in [("clean", 0)] + [(c, s) for c in BENCHMARK for s in range(1, 6)]]
    return RobustnessResult.build(model={"name": "m"}, dataset={"name": "d"}, protocol={}, cells=cells,
                                  allow_partial=False, provenance={}, intervals=intervals)


def _refusal(document, edit) -> str:
    edit(document.doc)
    with pytest.raises(ResultsError) as info:
        document.validate()
    return str(info.value)


def test_intervals_are_built_into_the_summaries_and_survive_the_file(tmp_path):
    doc = _coco_o({"mean": (1.0, 2.0), "per_domain": {"sketch": (0.5, 3.0)}})
    assert doc.stat("AP")["mean_ci"] == [1.0, 2.0]
    assert doc.stat("AP")["per_domain_ci"] == {"sketch": [0.5, 3.0]}
    loaded = CocoOResult.load(doc.dump(tmp_path / "coco_o.json"))
    assert loaded.stat("AP")["mean_ci"] == [1.0, 2.0] and loaded.where == str(tmp_path / "coco_o.json")
    partial = _coco_o({"per_domain": {"tattoo": (1.0, 1.0)}})  # no mean's interval: none written
    assert "mean_ci" not in partial.stat("AP")
    assert partial.stat("AP")["per_domain_ci"] == {"tattoo": [1.0, 1.0]}
    assert "per_domain_ci" not in _coco_o().stat("AP")
    robust = _robustness({"P": (10.0, 12.0), "mPC": (5.0, 6.0)})
    assert robust.stat("AP")["P_ci"] == [10.0, 12.0] and robust.stat("AP")["mPC_ci"] == [5.0, 6.0]
    assert "P_ci" not in _robustness({"mPC": (5.0, 6.0)}).stat("AP")


@pytest.mark.parametrize("bad", [[3.0, 2.0], [1.0], [1.0, 2.0, 3.0], "1-2", [1.0, "2"], [1.0, float("inf")]])
def test_malformed_intervals_are_refused_naming_the_key(bad):
    def names(message: str, where: str, key: str) -> bool:
        return message.startswith(f"{where}: ") and key in message and repr(bad) in message

    where = "<coco_o.json>"
    edit = lambda d: d["summary"]["stats"]["AP"].update(mean_ci=bad)  # noqa: E731
    assert names(_refusal(_coco_o(), edit), where, "mean_ci")
    per_domain = _coco_o({"per_domain": {"sketch": (0.5, 3.0)}})
    edit = lambda d: d["summary"]["stats"]["AP"]["per_domain_ci"].update(sketch=bad)  # noqa: E731
    assert names(_refusal(per_domain, edit), where, "sketch")
    assert names(_refusal(_robustness(), lambda d: d["summary"]["stats"]["AP"].update(mPC_ci=bad)),
                 "<robustness.json>", "mPC_ci")


def test_refusals_name_the_field_and_the_file(tmp_path):
    assert _refusal(_coco_o(), lambda d: d["model"].pop("name")) == (
        "<coco_o.json>: missing or malformed field 'model.name' (expected str)")
    assert _refusal(_coco_o(), lambda d: d.update(dataset=[])) == (
        "<coco_o.json>: missing or malformed field 'dataset' (expected dict)")
    assert _refusal(_coco_o(), lambda d: d["summary"].update(stats=[])) == (
        "<coco_o.json>: missing or malformed field 'summary.stats' (expected dict)")
    assert _refusal(_coco_o(), lambda d: d["summary"]["stats"].pop("AP")) == (
        "<coco_o.json>: summary.stats has no 'AP'")
    assert _refusal(_coco_o(), lambda d: d["summary"]["stats"]["AP"].update(mean=None)) == (
        "<coco_o.json>: summary AP.mean is None; absent figures must be left out")
    for schema in ("fan_det.coco_o", 5, "other.coco_o/1"):
        assert _refusal(_coco_o(), lambda d, s=schema: d.update(schema=s)) == (
            f"<coco_o.json>: no fan_det schema string (found {schema!r})")
    ood = OODResult.build(model={"name": "c"}, preprocessing={"mean": [0.5]}, provenance={"p": 1},
                          datasets={"imagenet-r": {"metrics": {"top1": 1.0}}})
    assert ood.preprocessing == {"mean": [0.5]} and ood.provenance == {"p": 1}
    assert ood.metrics("imagenet-a") == {} and ood.metrics("imagenet-r") == {"top1": 1.0}
    assert _refusal(ood, lambda d: d["datasets"].update({"imagenet-a": {"top1": 1.0}})) == (
        "<ood.json>: dataset 'imagenet-a' has no metrics")
    assert _refusal(ood, lambda d: d["datasets"].update({"imagenet-a": {"metrics": {"top1": None}}})) == (
        "<ood.json>: imagenet-a metric top1 is None; absent figures must be left out")
    with pytest.raises(ResultsError, match=r"cannot read \(Is a directory\)"):
        OODResult.load(tmp_path)


def test_files_are_written_with_two_space_indentation(tmp_path):
    doc = _coco_o()
    path = doc.dump(tmp_path / "out.json")
    assert path.read_text() == json.dumps(doc.doc, indent=2) + "\n"
    assert doc.path == path


def test_flat_items_names_every_leaf_by_its_path():
    assert list(flat_items({"a": {"b": {"c": 1}, "d": 2}, "e": 3})) == [("a.b.c", 1), ("a.d", 2), ("e", 3)]
    assert list(flat_items({"x": 1}, "p.")) == [("p.x", 1)]


def test_stat_defaults_to_box_ap_and_is_empty_for_a_stat_not_computed():
    for doc in (_coco_o(), _robustness()):
        assert doc.stat() == doc.stat("AP") and "per_domain" in _coco_o().stat()
        assert doc.stat("AP75") == {}


def test_robustness_checks_name_the_cell_and_the_figure():
    assert _refusal(_robustness(), lambda d: d["cells"].append(dict(d["cells"][0]))) == (
        "<robustness.json>: cell clean severity 0 appears twice")
    assert _refusal(_robustness(), lambda d: d["cells"][3].pop("stats")) == (
        "<robustness.json>: cell gaussian_noise severity 3 has no stats; rerun python -m fan_det.eval_coco_c")
    assert _refusal(_robustness(), lambda d: d["summary"]["stats"]["AP"].update(mPC=None)) == (
        "<robustness.json>: summary AP.mPC is None; absent figures must be left out")
    assert _refusal(_robustness(), lambda d: d["summary"]["stats"]["AP"].update(P_ci=[2.0, 1.0])) == (
        "<robustness.json>: P_ci is [2.0, 1.0], not an interval [low, high]")
    doc = _robustness()
    fog = [c["stats"]["bbox"]["AP"] for c in doc.cells if c["corruption"] == "fog"]
    assert _refusal(doc, lambda d: d["summary"]["stats"]["AP"]["per_corruption"].update(fog=99.0)) == (
        f"<robustness.json>: summary stats.AP.per_corruption.fog is 99.0, which disagrees with its cells "
        f"({statistics.fmean(fog)!r}); rerun python -m fan_det.eval_coco_c")
    assert _refusal(_robustness(), lambda d: d["summary"].update(missing=[["fog", 3]])) == (
        "<robustness.json>: summary lists missing cells but is not marked partial")


def test_a_partial_grid_without_its_clean_cell_is_a_valid_document():
    doc = _robustness()
    cells = [c for c in doc.cells if (c["corruption"], c["severity"]) not in {("clean", 0), ("fog", 3)}]
    partial = RobustnessResult.build(model={"name": "m"}, dataset={"name": "d"}, protocol={}, cells=cells,
                                     allow_partial=True, provenance={})
    partial.validate()
    assert partial.partial and partial.summary["missing"] == [["clean", 0], ["fog", 3]]
    assert "P" not in partial.stat()
    point = _coco_o({"mean": (2.0, 2.0)})  # a zero-width interval is an interval
    point.validate()



def test_another_scale_is_refused_naming_it():
    assert _refusal(_coco_o(), lambda d: d.update(scale="0-1")) == (
        "<coco_o.json>: scale '0-1'; results are on the 0-100 scale only")


def test_a_domain_without_stats_or_a_summary_without_domains_is_refused_not_a_traceback():
    doc = _coco_o()
    assert _refusal(_coco_o(), lambda d: d["domains"]["sketch"].pop("stats")) == (
        "<coco_o.json>: domain sketch has no stats; rerun python -m fan_det.eval_coco_o")
    assert _refusal(_coco_o(), lambda d: d["domains"].update(sketch=[12.5])) == (
        "<coco_o.json>: domain sketch has no stats; rerun python -m fan_det.eval_coco_o")
    assert _refusal(_coco_o(), lambda d: d["summary"]["stats"]["AP"].pop("per_domain")) == (
        "<coco_o.json>: summary stats.AP.per_domain.cartoon is None, which disagrees with its cells "
        f"({doc.stat()['per_domain']['cartoon']!r}); rerun python -m fan_det.eval_coco_o")
