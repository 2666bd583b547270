"""The protocol module is the one home of the corruption names and a leaf that metrics build on."""

import ast
import sys
from pathlib import Path

import imagecorruptions
import numpy as np
import pytest

from fan_det import protocol
from fan_det.metrics.classification import topk_correct


@pytest.mark.parametrize(("subset", "expected"), [
    ("common", protocol.BENCHMARK), ("validation", protocol.HOLDOUT), ("all", protocol.ALL_CORRUPTIONS),
    *[(family, names) for family, names in protocol.FAMILIES.items()],
])
def test_names_equal_the_corruption_library(subset, expected):
    assert tuple(imagecorruptions.get_corruption_names(subset)) == expected


def test_sets_and_cells():
    assert len(protocol.BENCHMARK) == 15 and len(protocol.HOLDOUT) == 4
    assert not set(protocol.BENCHMARK) & set(protocol.HOLDOUT)
    cells = protocol.plan_cells(("fog", "snow"), (1, 3))
    assert cells == [("clean", 0), ("fog", 1), ("fog", 3), ("snow", 1), ("snow", 3)]
    assert cells[0].is_clean and cells[1].name == "fog-1"
    assert protocol.resolve_corruptions("noise,fog,shot_noise") == (
        "gaussian_noise", "shot_noise", "impulse_noise", "fog")
    with pytest.raises(ValueError, match="unknown corruption"):
        protocol.resolve_corruptions("fgo")
    assert protocol.parse_severities("4,1-2") == (1, 2, 4)
    with pytest.raises(ValueError, match="1..5"):
        protocol.parse_severities("0-5")


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    return names | {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}


def test_protocol_and_metrics_import_only_the_standard_library_numpy_scipy_and_each_other():
    package = Path(protocol.__file__).parent
    metrics = sorted((package / "metrics").glob("*.py"))
    allowed_local = {"fan_det.protocol"} | {f"fan_det.metrics.{p.stem}" for p in metrics}
    for path in [package / "protocol.py", *metrics]:
        for name in _imported_modules(path):
            top = name.split(".")[0]
            ok = top in sys.stdlib_module_names or top in ("numpy", "scipy") or name in allowed_local
            assert ok, f"{path.name} imports {name}"


def test_topk_ties_rank_the_lower_class_first():
    logits = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0]])
    assert topk_correct(logits, np.array([2, 3]), (1, 2, 3))[1].tolist() == [False, False]
    assert topk_correct(logits, np.array([2, 3]), (1, 2, 3))[2].tolist() == [True, False]
    assert topk_correct(logits, np.array([1, 0]), (1,))[1].tolist() == [True, True]


def test_coco_o_summary_is_the_plain_mean_over_domains():
    from fan_det.metrics.detection import coco_o_summary

    rng = np.random.default_rng(7)
    stats = {d: {"AP": float(rng.uniform(0, 40)), "AP50": float(rng.uniform(0, 60))}
             for d in protocol.COCO_O_DOMAINS}
    summary = coco_o_summary(stats)
    for name in ("AP", "AP50"):
        assert summary["stats"][name]["mean"] == pytest.approx(np.mean([s[name] for s in stats.values()]))
    assert summary["partial"] is False and summary["missing"] == []
    two = coco_o_summary({"tattoo": stats["tattoo"], "sketch": stats["sketch"]})
    assert two["partial"] and list(two["stats"]["AP"]["per_domain"]) == ["sketch", "tattoo"]
    assert two["missing"] == ["cartoon", "painting", "weather", "handmake"]
    with pytest.raises(ValueError, match="unknown COCO-O domain"):
        coco_o_summary({"clipart": {"AP": 1.0}})
