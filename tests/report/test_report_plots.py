"""The OOD bar chart draws each accuracy's 95% interval as an error bar, and none where a value has none."""

from __future__ import annotations

import numpy as np
import pytest

from fan_det.report.plots import ood_bars_figure
from fan_det.report.tables import column, row, table


def glance() -> dict:
    rng = np.random.default_rng(3)
    top1 = rng.uniform(20, 80, size=(2, 3))
    intervals = [[[v - rng.uniform(1, 9), v + rng.uniform(1, 9)] for v in values] for values in top1]
    intervals[1][2] = None  # ImageNet-C's mean accuracy carries no interval
    top1[0][0], intervals[0][0] = 0.0, [1e-15, 16.1]  # none right; a bound a rounding error above the value
    rows = [row(f"model {i}", list(top1[i]), intervals=intervals[i]) for i in range(2)]
    columns = [column("a/top1", "A"), column("r/top1", "R"), column("c/top1", "C")]
    return table("ood-glance", "t", columns, rows)


def test_each_interval_is_an_error_bar_from_its_lower_to_its_upper_bound():
    data = glance()
    ax = ood_bars_figure(data).axes[0]
    drawn = {c.get_gid(): c.get_segments() for c in ax.collections if c.get_gid()}
    assert set(drawn) == {"interval-0", "interval-1"}
    for i, r in enumerate(data["rows"]):
        expected = [ci for ci in r["intervals"] if ci is not None]
        segments = drawn[f"interval-{i}"]
        assert len(segments) == len(expected)
        for segment, (lo, hi) in zip(segments, expected, strict=True):
            (x0, y0), (x1, y1) = segment
            assert x0 == x1 and sorted([y0, y1]) == pytest.approx([lo, hi], abs=1e-9)
    heights = sorted(p.get_height() for p in ax.patches)
    assert heights == sorted(v for r in data["rows"] for v in r["values"])

