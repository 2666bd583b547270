"""What a corruption grid's refusal says a summary figure comes from: P from the clean cell, named by the
headline's label or by the stat's own (dotted) name; holdout figures and the rest from the cells."""

from __future__ import annotations

import numpy as np
import pytest

from fan_det.results import ResultsError, RobustnessResult

RERUN = "rerun python -m fan_det.eval_coco_c"


def _refusal(edit) -> tuple[str, float]:
    rng = np.random.default_rng(11)
    cells = [{"corruption": c, "severity": s, "num_images": 2, "seconds": 0.1,
              "stats": {"bbox": {"AP": 20.0 + s, "AP.5": 40.0 + s}}}
             for c, s in (("clean", 0), ("fog", 1), ("snow", 2), ("speckle_noise", 1))]
    for cell in cells:
        cell["stats"]["bbox"] = {k: v + float(rng.uniform(0, 1)) for k, v in cell["stats"]["bbox"].items()}
    doc = RobustnessResult.build(model={"name": "m"}, dataset={"name": "d"}, protocol={}, cells=cells,
                                 allow_partial=True, provenance={})
    edit(doc.doc["summary"])
    with pytest.raises(ResultsError) as info:
        doc.validate()
    return str(info.value), cells[0]["stats"]["bbox"]["AP.5"]


def test_a_stats_p_names_the_clean_cell_and_the_stat():
    line, clean = _refusal(lambda s: s["stats"]["AP.5"].update(P=1.0))
    assert line == (f"<robustness.json>: summary stats.AP.5.P is 1.0, which disagrees with the clean cell's "
                    f"AP.5 ({clean!r}); {RERUN}")


def test_a_holdout_p_is_named_as_coming_from_the_cells():
    line, _ = _refusal(lambda s: s["holdout"]["AP"].update(P=5.0))
    assert line == (f"<robustness.json>: summary holdout.AP.P is 5.0, which disagrees with its cells (None); "
                    f"{RERUN}")
