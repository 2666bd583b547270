"""The summaries' tolerance at its edges (1e-4 absolute, 1e-5 relative: float printing and rounding to 4
decimals pass, a hand edit does not) and a summary stat stripped of its per-corruption breakdown, refused
in one line like any other figure that disagrees with the cells."""

from __future__ import annotations

import numpy as np
import pytest

from fan_det.protocol import BENCHMARK, HOLDOUT
from fan_det.results import CocoOResult, ResultsError, RobustnessResult

WHERE = "<robustness.json>"


def _grid(clean_ap: float, holdout: bool = False) -> RobustnessResult:
    rng = np.random.default_rng(7)
    names = BENCHMARK + (HOLDOUT if holdout else ())
    cells = [{"corruption": "clean", "severity": 0, "num_images": 3, "seconds": 0.2,
              "stats": {"bbox": {"AP": clean_ap}}}]
    cells += [{"corruption": c, "severity": s, "num_images": 3, "seconds": 0.2,
               "stats": {"bbox": {"AP": float(rng.uniform(2, 40))}}} for c in names for s in range(1, 6)]
    return RobustnessResult.build(model={"name": "m"}, dataset={"name": "d"}, protocol={}, cells=cells,
                                  allow_partial=False, provenance={})


def _validated(doc, edit) -> None:
    edit(doc.doc)
    doc.validate()


def _refused(doc, edit) -> str:
    with pytest.raises(ResultsError) as info:
        _validated(doc, edit)
    return str(info.value)


def test_a_figure_of_zero_stored_exactly_the_absolute_tolerance_away_loads():
    _validated(_grid(0.0), lambda d: d["summary"]["stats"]["AP"].update(P=1e-4))
    domains = {d: {"num_images": 1, "seconds": 0.1, "stats": {"bbox": {"AP": 0.0}}}
               for d in ("sketch", "tattoo")}
    coco_o = CocoOResult.build(model={"name": "m"}, dataset={}, domains=domains, provenance={})
    _validated(coco_o, lambda d: d["summary"]["stats"]["AP"].update(mean=1e-4))


def test_a_figure_of_zero_stored_past_the_absolute_tolerance_is_refused():
    assert _refused(_grid(0.0), lambda d: d["summary"]["stats"]["AP"].update(P=1.5e-4)) == (
        f"{WHERE}: summary stats.AP.P is 0.00015, which disagrees with the clean cell's box AP (0.0); "
        "rerun python -m fan_det.eval_coco_c")


def test_a_large_figure_is_compared_relatively():
    # at 50, 1e-5 relative is 5e-4: 4e-4 away loads, 6e-4 away is refused (both past the absolute 1e-4)
    _validated(_grid(50.0), lambda d: d["summary"]["stats"]["AP"].update(P=50.0004))
    assert _refused(_grid(50.0), lambda d: d["summary"]["stats"]["AP"].update(P=50.0006)) == (
        f"{WHERE}: summary stats.AP.P is 50.0006, which disagrees with the clean cell's box AP (50.0); "
        "rerun python -m fan_det.eval_coco_c")


@pytest.mark.parametrize("block", ["stats", "holdout"])
def test_a_summary_stat_without_its_per_corruption_breakdown_is_one_line(block):
    doc = _grid(30.0, holdout=True)
    first = sorted(BENCHMARK if block == "stats" else HOLDOUT)[0]
    mean = sum(c["stats"]["bbox"]["AP"] for c in doc.cells if c["corruption"] == first) / 5
    line = _refused(doc, lambda d: d["summary"][block]["AP"].pop("per_corruption"))
    assert line.startswith(f"{WHERE}: summary {block}.AP.per_corruption.{first} is None, which disagrees "
                           "with its cells (")
    assert line.endswith("); rerun python -m fan_det.eval_coco_c") and "\n" not in line
    assert float(line.split("its cells (")[1].split(")")[0]) == pytest.approx(mean, rel=1e-12)
