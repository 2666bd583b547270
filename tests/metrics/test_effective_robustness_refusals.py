"""``fit_line``'s edges: two models are enough (a line through both, R2 of 1), a constant OOD accuracy has no
R2, and each refusal's whole message names the axis or the fix; a given line's prediction and distance at
one model are plain floats, computed by hand here."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fan_det.metrics.effective_robustness import (
    Line,
    as_accuracy,
    effective_robustness,
    fit_line,
    from_transformed,
    predict,
)


def test_two_models_give_the_line_through_both():
    # logit(0.5) = 0, logit(0.8) = ln 4; logit(0.2) = -ln 4, logit(0.6) = ln 1.5: slope and intercept by hand
    line = fit_line([50.0, 80.0], [20.0, 60.0])
    assert line.slope == pytest.approx((math.log(1.5) + math.log(4)) / math.log(4), rel=1e-12)
    assert line.intercept == pytest.approx(-math.log(4), rel=1e-12)
    assert line.r2 == pytest.approx(1.0, rel=1e-12) and line.n_models == 2 and line.id_range == (50.0, 80.0)


def test_close_ood_accuracies_still_have_an_r2():
    # logit(0.40) and logit(0.45) are 0.2 apart: a spread under 1 on the transformed axis is still a spread
    rng = np.random.default_rng(3)
    ids = rng.uniform(60, 80, size=3)
    line = fit_line(ids, [40.0, 45.0, 42.0])
    assert 0.0 <= line.r2 <= 1.0


def test_a_constant_ood_accuracy_has_no_r2():
    line = fit_line([55.0, 70.0, 85.0], [30.0, 30.0, 30.0])
    assert math.isnan(line.r2) and line.slope == pytest.approx(0.0, abs=1e-12)


SHAPES = "fit_line needs two 1-D sequences of the same length, at least 2 models"


@pytest.mark.parametrize(("ids", "oods", "message"), [
    ([50.0, 101.0], [20.0, 30.0], "ID: accuracies must be finite and on the 0-100 scale"),
    ([50.0, 60.0], [20.0, float("nan")], "OOD: accuracies must be finite and on the 0-100 scale"),
    ([50.0, 60.0, 70.0], [20.0, 30.0], SHAPES),
    ([[50.0, 60.0], [70.0, 80.0]], [[20.0, 30.0], [40.0, 50.0]], SHAPES),
    ([50.0], [20.0], SHAPES),
    ([50.0, 50.0, 50.0], [20.0, 30.0, 40.0], "fit_line needs at least two different ID accuracies"),
])
def test_refusals_are_whole_messages(ids, oods, message):
    with pytest.raises(ValueError) as info:
        fit_line(ids, oods)
    assert str(info.value) == message


LINE = Line(slope=2.0, intercept=0.5, transform="logit", n_models=3, r2=0.75, id_range=(40.0, 90.0))


def test_one_models_prediction_and_distance_are_floats_computed_by_hand():
    # at ID 50, logit(0.5) = 0: the line's transformed OOD is 0.5, its accuracy 100 / (1 + e^-0.5)
    expected = 100.0 / (1.0 + math.exp(-0.5))
    assert type(predict(LINE, 50.0)) is float and predict(LINE, 50.0) == pytest.approx(expected, rel=1e-12)
    distance = effective_robustness(LINE, 50.0, 70.0)
    assert type(distance) is float and distance == pytest.approx(70.0 - expected, rel=1e-12)
    both = effective_robustness(LINE, [50.0, 50.0], [70.0, 60.0])
    assert both == pytest.approx([70.0 - expected, 60.0 - expected], rel=1e-12)


def test_the_inverse_transform_defaults_to_logit_and_accuracies_become_floats():
    assert from_transformed(0.0) == 50.0 and from_transformed(math.log(3)) == pytest.approx(75.0, rel=1e-12)
    assert as_accuracy([50, 70], "ID").dtype == np.float64
    assert LINE.to_dict() == {"slope": 2.0, "intercept": 0.5, "transform": "logit", "n_models": 3, "r2": 0.75,
                              "id_range": [40.0, 90.0]}


def test_a_prediction_or_distance_off_the_scale_names_its_axis():
    for call, axis in ((lambda: predict(LINE, 120.0), "ID"),
                       (lambda: effective_robustness(LINE, 50.0, -1.0), "OOD"),
                       (lambda: effective_robustness(LINE, float("inf"), 50.0), "ID")):
        with pytest.raises(ValueError) as info:
            call()
        assert str(info.value) == f"{axis}: accuracies must be finite and on the 0-100 scale"


def test_an_unknown_transform_is_refused_naming_the_known_ones():
    for call in (lambda: fit_line([50.0, 60.0], [20.0, 30.0], "arcsin"),
                 lambda: from_transformed(0.0, "arcsin")):
        with pytest.raises(ValueError) as info:
            call()
        assert str(info.value) == "unknown transform 'arcsin'; expected one of logit, probit"
