"""The shard split worked by hand (longest unit first onto the least-loaded shard; glass_blur and
zoom_blur cost ten times the others, per severity), each shard's images with their own cells, and each
bad --shard's one line."""

from __future__ import annotations

import pytest

from fan_det.corruptions.builder import ImageEntry, plan_units
from fan_det.corruptions.shards import assign, parse_shard, unit_cost


def test_a_unit_costs_its_severities_times_its_corruption_weight():
    assert unit_cost(("a.png", "glass_blur", 5)) == 50.0
    assert unit_cost(("a.png", "zoom_blur", 2)) == 20.0
    assert unit_cost(("a.png", "fog", 3)) == 3.0


def test_the_longest_unit_goes_first():
    # by hand: blur (10) -> shard 0; then a (1) -> shard 1 (load 0); then b (1) -> shard 1 (load 1 < 10)
    units = [("a.png", "fog", 1), ("b.png", "fog", 1), ("c.png", "glass_blur", 1)]
    assert assign(units, 2) == [1, 1, 0]


def test_one_shard_of_one_is_a_shard():
    assert parse_shard("0/1") == (0, 1)


@pytest.mark.parametrize(("spec", "reason"), [
    ("x", "expected K/N, e.g. 0/4 (K counts from 0)"),
    ("1/2/3", "expected K/N, e.g. 0/4 (K counts from 0)"),
    ("2/2", "need 0 <= K < N"),
    ("0/0", "need 0 <= K < N"),
    ("-1/2", "need 0 <= K < N"),
])
def test_a_bad_shard_is_one_line_naming_it(spec, reason):
    with pytest.raises(ValueError) as info:
        parse_shard(spec)
    assert str(info.value) == f"bad --shard {spec!r}: {reason}"


def test_each_shard_builds_its_images_with_their_own_cells():
    # by hand, units in cost order: the three glass_blur units (20 each) onto shards 0, 1, 0 (loads 20, 20,
    # then 40), then each fog unit (2) onto shard 1, the least loaded (20, 22, 24)
    a, b, c = (ImageEntry(k, f"/src/{name}.jpg", f"{name}.png") for k, name in enumerate("abc"))
    blur, fog = [("glass_blur", 1), ("glass_blur", 2)], [("fog", 1), ("fog", 2)]
    corruptions = ("glass_blur", "fog")
    assert plan_units([a, b, c], corruptions, (1, 2), (0, 2)) == [(a, blur), (c, blur)]
    assert plan_units([a, b, c], corruptions, (1, 2), (1, 2)) == [(a, fog), (b, blur + fog), (c, fog)]
    assert plan_units([a, b], ("fog",), (2,), None) == [(a, [("fog", 2)]), (b, [("fog", 2)])]
