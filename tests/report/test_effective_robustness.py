"""Effective robustness against timm's published results: pairing, fit, signs, summary and plot.

Expected values come from the shipped CSVs read here with the csv module and from ``numpy.polyfit``
on transforms written here (``math.log``, ``statistics.NormalDist``), never from the module's own helpers.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import statistics
from pathlib import Path

import numpy as np
import pytest

from fan_det.metrics import effective_robustness as fit
from fan_det.protocol import OOD_DATASETS
from fan_det.report import effective_robustness as er
from fan_det.report.plots import SHOWN_RANGE
from fan_det.report.plots import effective_robustness_plot as plot
from fan_det.report.references import eval_dir

FILES = {
    "results-imagenet.csv", "results-imagenet-a.csv", "results-imagenet-a-clean.csv",
    "results-imagenet-r.csv", "results-imagenet-r-clean.csv", "results-sketch.csv",
    "results-imagenetv2-matched-frequency.csv",
}
# shift -> (OOD file, ID file): timm's protocol, A / R against the clean 200-class subsets
PAIRING = {
    "imagenet-a": ("results-imagenet-a.csv", "results-imagenet-a-clean.csv"),
    "imagenet-r": ("results-imagenet-r.csv", "results-imagenet-r-clean.csv"),
    "imagenet-sketch": ("results-sketch.csv", "results-imagenet.csv"),
    "imagenet-v2": ("results-imagenetv2-matched-frequency.csv", "results-imagenet.csv"),
}
CLIP = 1e-4  # fraction: 0.01 accuracy points


def data_dir() -> Path:
    return Path(str(eval_dir() / "reference" / "timm_results"))


def rows(name: str) -> list[dict[str, str]]:
    with open(data_dir() / name, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        return [dict(zip(header, r, strict=True)) for r in reader]


def joined(shift: str) -> list[tuple[float, float, str]]:
    """(ID top-1, OOD top-1, OOD top1_diff) per (model, img_size) present in both files."""
    ood_name, id_name = PAIRING[shift]
    iid = {(r["model"], r["img_size"]): float(r["top1"]) for r in rows(id_name)}
    return [(iid[(r["model"], r["img_size"])], float(r["top1"]), r["top1_diff"])
            for r in rows(ood_name) if (r["model"], r["img_size"]) in iid]


def logit(acc: float) -> float:
    p = min(max(acc / 100, CLIP), 1 - CLIP)
    return math.log(p / (1 - p))


def probit(acc: float) -> float:
    return statistics.NormalDist().inv_cdf(min(max(acc / 100, CLIP), 1 - CLIP))


INVERSE = {
    "logit": lambda z: 100 / (1 + math.exp(-z)),
    "probit": lambda z: 100 * statistics.NormalDist().cdf(z),
}
FORWARD = {"logit": logit, "probit": probit}


def test_shipped_csvs_have_1556_rows_each_and_their_licence():
    folder = data_dir()
    assert {p.name for p in folder.glob("*.csv")} == FILES
    for name in FILES:
        lines = (folder / name).read_text(encoding="utf-8").splitlines()
        assert lines[0].startswith("model,img_size,top1,"), name
        assert len(lines) - 1 == 1556, name
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert "Apache-2.0" in readme and "pytorch-image-models" in readme
    assert "Apache License" in (folder / "LICENSE").read_text(encoding="utf-8")


@pytest.mark.parametrize("shift,expected", [("imagenet-a", 1555), ("imagenet-r", 1556),
                                            ("imagenet-sketch", 1556), ("imagenet-v2", 1556)])
def test_pairing_follows_timm_and_a_r_use_the_clean_subsets(shift, expected):
    pairs = er.reference_pairs(shift)
    mine = joined(shift)
    assert len(pairs.keys) == len(mine) == expected
    assert sorted(zip(pairs.id_acc, pairs.ood_acc, strict=True)) == sorted((i, o) for i, o, _ in mine)
    # timm's own top1_diff column says which ID file each shift is measured against
    diffs = [(o - i, float(d)) for i, o, d in mine if d]
    assert len(diffs) >= expected - 1
    assert max(abs(a - b) for a, b in diffs) < 2e-3
    if shift in ("imagenet-a", "imagenet-r"):
        val = {(r["model"], r["img_size"]): float(r["top1"]) for r in rows("results-imagenet.csv")}
        id_of = dict(zip(pairs.keys, pairs.id_acc, strict=True))
        gaps = [id_of[k] - val[k] for k in pairs.keys if k in val]
        assert len(gaps) >= expected - 1 and min(gaps) > 0  # the 200-class clean subset is the easier one
        assert er.SHIFTS[shift].id_csv == f"results-{shift}-clean.csv"


@pytest.mark.parametrize("transform", ["logit", "probit"])
@pytest.mark.parametrize("shift", sorted(PAIRING))
def test_reference_line_matches_an_independent_polyfit(shift, transform):
    f = FORWARD[transform]
    data = joined(shift)
    x = np.array([f(i) for i, _, _ in data])
    y = np.array([f(o) for _, o, _ in data])
    slope, intercept = np.polyfit(x, y, 1)
    line = er.reference_lines(transform)[shift]
    assert line.transform == transform and line.n_models == len(data)
    assert line.slope == pytest.approx(slope, rel=1e-9)
    assert line.intercept == pytest.approx(intercept, rel=1e-9, abs=1e-12)
    assert line.r2 == pytest.approx(np.corrcoef(x, y)[0, 1] ** 2, rel=1e-9)
    assert 0.5 < line.r2 <= 1  # accuracy is "on the line" for every shift


@pytest.mark.parametrize("transform", ["logit", "probit"])
def test_fit_recovers_a_known_line_from_random_points(transform):
    rng = np.random.default_rng(0)
    ids = rng.uniform(40, 95, 30)
    oods = [INVERSE[transform](1.3 * FORWARD[transform](a) - 0.7) for a in ids]
    line = fit.fit_line(ids, oods, transform)
    assert (line.slope, line.intercept) == (pytest.approx(1.3, rel=1e-9), pytest.approx(-0.7, rel=1e-9))
    assert line.n_models == 30 and line.r2 == pytest.approx(1.0)


@pytest.mark.parametrize("transform", ["logit", "probit"])
@pytest.mark.parametrize("shift", sorted(PAIRING))
def test_effective_robustness_is_zero_on_the_line_and_signed_off_it(shift, transform):
    line = er.reference_lines(transform)[shift]
    rng = np.random.default_rng(1)
    for id_acc in rng.uniform(30, 99, 5):
        on = INVERSE[transform](line.slope * FORWARD[transform](id_acc) + line.intercept)
        assert fit.predict(line, id_acc) == pytest.approx(on, abs=1e-9)
        assert abs(fit.effective_robustness(line, id_acc, on)) < 1e-9
        if on <= 99:
            assert fit.effective_robustness(line, id_acc, on + 1) == pytest.approx(1.0, abs=1e-9)
        if on >= 1:
            assert fit.effective_robustness(line, id_acc, on - 1) == pytest.approx(-1.0, abs=1e-9)
    ids = rng.uniform(30, 99, 7)
    ons = np.array([INVERSE[transform](line.slope * FORWARD[transform](a) + line.intercept) for a in ids])
    np.testing.assert_allclose(fit.effective_robustness(line, ids, ons + 0.5), 0.5, atol=1e-9)


def test_accuracies_at_0_and_100_are_clipped_to_finite_predictions():
    line = fit.fit_line([50, 70, 90], [20, 40, 70])
    np.testing.assert_allclose(fit.to_transformed([0, 100]), [logit(0), logit(100)], rtol=1e-12)
    assert math.isfinite(fit.predict(line, 0)) and math.isfinite(fit.predict(line, 100))
    assert fit.predict(line, 0) == pytest.approx(INVERSE["logit"](line.slope * logit(0) + line.intercept))


@pytest.mark.parametrize("call", [
    lambda: fit.fit_line([50, 60], [10, 20], transform="log"),
    lambda: fit.fit_line([50, 160], [10, 20]),
    lambda: fit.fit_line([50], [10]),
    lambda: fit.fit_line([50, 60], [10, float("nan")]),
    lambda: er.reference_pairs("imagenet-c"),
    lambda: er.summarise({"m": {"imagenet": 80, "imagenet-sketch": -3}}),
])
def test_bad_input_is_refused(call):
    with pytest.raises(ValueError):
        call()


def test_summarise_reports_each_shift_its_accuracies_allow():
    models = {
        "fan": {"imagenet": 80.0, "imagenet-sketch": 31.0, "imagenet-v2": 69.0, "imagenet-a": 20.0,
                "imagenet-r": 45.0, "imagenet-r-clean": 93.0},
    }
    out = json.loads(json.dumps(er.summarise(models)))
    # no imagenet-a-clean: full-val accuracy must not stand in for the 200-class clean accuracy
    assert sorted(out["fan"]) == ["imagenet-r", "imagenet-sketch", "imagenet-v2"]
    r = out["fan"]["imagenet-r"]
    line = er.reference_lines()["imagenet-r"]
    expected = INVERSE["logit"](line.slope * logit(93.0) + line.intercept)
    assert r["id_acc"] == 93.0 and r["ood_acc"] == 45.0 and r["id_key"] == "imagenet-r-clean"
    assert r["predicted"] == pytest.approx(expected, abs=1e-9)
    assert r["effective_robustness"] == pytest.approx(45.0 - expected, abs=1e-9)
    assert r["transform"] == "logit" and r["n_reference_models"] == len(joined("imagenet-r"))
    assert r["extrapolated"] is False
    low = er.summarise({"random": {"imagenet": 0.1, "imagenet-v2": 0.1}})["random"]["imagenet-v2"]
    assert low["extrapolated"] is True  # below every reference model's ImageNet accuracy (min 40.98)
    assert out["fan"]["imagenet-sketch"]["id_acc"] == 80.0
    probit_out = er.summarise(models, transform="probit")["fan"]["imagenet-v2"]
    assert probit_out["transform"] == "probit"
    assert probit_out["predicted"] == pytest.approx(
        INVERSE["probit"](er.reference_lines("probit")["imagenet-v2"].slope * probit(80.0)
                          + er.reference_lines("probit")["imagenet-v2"].intercept), abs=1e-9)


def test_shift_names_are_the_ood_dataset_names_of_the_protocol():
    assert set(er.SHIFTS) <= set(OOD_DATASETS)


def test_accuracies_from_an_ood_json_pair_r_with_its_in200_accuracy():
    datasets = {
        "imagenet": {"metrics": {"top1": 7.3, "top5": 11.7}},
        "imagenet-a": {"metrics": {"top1": 1.63, "top1_unmasked": 1.53}},
        "imagenet-r": {"metrics": {"top1": 3.22, "in200_top1": 7.13}},
        "imagenet-sketch": {"metrics": {"top1": 2.7}},
        "imagenet-c": {"metrics": {"mce": 90.0}},
        "imagenet-v2": {"variant": "matched-frequency", "metrics": {"top1": 6.1}},
    }
    assert er.accuracies_from_ood(datasets) == {
        "imagenet": 7.3, "imagenet-a": 1.63, "imagenet-r": 3.22, "imagenet-r-clean": 7.13,
        "imagenet-sketch": 2.7, "imagenet-v2": 6.1,
    }
    datasets["imagenet-a"]["metrics"]["in200_top1"] = 9.5
    assert er.accuracies_from_ood(datasets)["imagenet-a-clean"] == 9.5
    # another V2 test set is not what timm's V2 line was fitted on; an unnamed one is not trusted either
    for other in ({"variant": "threshold-0.7"}, {}):
        datasets["imagenet-v2"] = {**other, "metrics": {"top1": 6.1}}
        assert "imagenet-v2" not in er.accuracies_from_ood(datasets)


def test_plot_draws_every_paired_model_and_plain_text_labels(tmp_path):
    points = {"FAN $\\frac$ (ours)": (93.0, 45.0), "cost $5": (80.0, 30.0)}
    path = tmp_path / "er.png"
    fig = plot("imagenet-r", points, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ax = fig.axes[0]
    by_gid = {c.get_gid(): c.get_offsets() for c in ax.collections}
    cloud = np.asarray(by_gid["reference-cloud"])
    expected = joined("imagenet-r")
    assert len(cloud) == len(expected) == 1556
    assert sorted(map(tuple, cloud.tolist())) == sorted((i, o) for i, o, _ in expected)
    np.testing.assert_allclose(by_gid["user-models"], [[93.0, 45.0], [80.0, 30.0]])
    assert sorted(t.get_text() for t in ax.texts) == sorted(points)
    assert ax.get_xscale() == ax.get_yscale() == "function"


def test_a_model_at_0_percent_is_drawn_at_the_edge_without_stretching_the_axes(tmp_path):
    """A random-weights model (0%, 0%) beside a trained one: the axes stay near the reference cloud."""
    both = plot("imagenet-r", {"trained": (80.0, 30.0), "random": (0.0, 0.0)}, tmp_path / "b.png").axes[0]
    low, high = SHOWN_RANGE
    for get in ("get_xlim", "get_ylim"):
        lo, hi = getattr(both, get)()
        assert 0.5 < lo < low and hi < 99.5  # 0% itself would put lo near the 0.01 clip
    by_gid = {c.get_gid(): np.asarray(c.get_offsets()) for c in both.collections}
    np.testing.assert_allclose(by_gid["user-models"], [[80.0, 30.0]])
    np.testing.assert_allclose(by_gid["user-models-off-scale"], [[low, low]])
    assert sorted(t.get_text() for t in both.texts) == ["random (off scale: 0.0, 0.0)", "trained"]


def test_plot_of_imagenet_a_in_probit_has_1555_points(tmp_path):
    fig = plot("imagenet-a", {}, tmp_path / "a.png", transform="probit")
    cloud = next(c for c in fig.axes[0].collections if c.get_gid() == "reference-cloud")
    assert len(cloud.get_offsets()) == len(joined("imagenet-a")) == 1555


def test_probit_fit_equals_polyfit_on_the_standard_library_quantiles():
    data = joined("imagenet-v2")
    x = np.array([probit(i) for i, _, _ in data])
    y = np.array([probit(o) for _, o, _ in data])
    slope, intercept = np.polyfit(x, y, 1)
    line = fit.fit_line([i for i, _, _ in data], [o for _, o, _ in data], "probit")
    assert line.slope == pytest.approx(slope, rel=1e-9)
    assert line.intercept == pytest.approx(intercept, rel=1e-9)
    expected = INVERSE["probit"](slope * probit(75.0) + intercept)
    assert fit.predict(line, 75.0) == pytest.approx(expected, abs=1e-9)


def test_reference_provenance_names_files_by_hash_and_the_fitted_lines():
    prov = er.reference_provenance("probit")
    used = {f for pair in PAIRING.values() for f in pair}
    assert prov["sha256"] == {f: hashlib.sha256((data_dir() / f).read_bytes()).hexdigest() for f in used}
    assert prov["transform"] == "probit" and prov["clip"] == pytest.approx(CLIP * 100)
    for shift, (ood_file, id_file) in PAIRING.items():
        entry = prov["shifts"][shift]
        assert (entry["ood_file"], entry["id_file"]) == (ood_file, id_file)
        ids = [i for i, _, _ in joined(shift)]
        assert entry["id_range"] == [min(ids), max(ids)] and entry["n_models"] == len(ids)
    json.dumps(prov)
    with pytest.raises(TypeError):
        er.reference_lines()["imagenet-a"] = None
