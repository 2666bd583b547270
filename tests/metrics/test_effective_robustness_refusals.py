"""``fit_line``'s edges: two models are enough (a line through both, R2 of 1), a constant OOD accuracy has no
R2, and each refusal's whole message names the axis or the fix."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fan_det.metrics.effective_robustness import fit_line


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
