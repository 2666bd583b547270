"""Tables as the report stores them: columns' directions, rows' defaults, best and tied marks, cells' text."""

from __future__ import annotations

import pytest

from fan_det.report.tables import column, fmt, fmt_cell, row, table


@pytest.mark.parametrize(("key", "better"), [
    ("top1", "higher"),
    ("calibration_error", "lower"),
    ("summary.stats.mce", "lower"),
    ("imagenet-r/gap", "lower"),
    ("a/b/relative_mce", "lower"),
    ("ood.imagenet-c/mce", "lower"),
    ("mce.top1", "higher"),
    ("gap/top1", "higher"),
])
def test_a_column_is_lower_is_better_by_its_last_key_part(key, better):
    assert column(key)["better"] == better


def test_column_defaults_and_explicit_directions():
    assert column("top1") == {"key": "top1", "label": "top1", "better": "higher", "complete_only": False}
    assert column("mce", "mCE", better=None, complete_only=True) == {
        "key": "mce", "label": "mCE", "better": None, "complete_only": True}
    assert column("gap", better="lower")["better"] == "lower"


def test_row_defaults_one_empty_interval_per_value():
    assert row("m", [1.5, 2]) == {"label": "m", "values": [1.5, 2], "intervals": [None, None],
                                  "partial": False, "kind": "ours", "ranked": True}
    assert row("m", [1.0], intervals=[[0.5, 1.5]])["intervals"] == [[0.5, 1.5]]


def best_and_tied(rows: list[dict], columns: list[dict]) -> tuple[list, list]:
    marked = table("t", "T", columns, rows)
    return [r["best"] for r in marked["rows"]], [r["tied"] for r in marked["rows"]]


def test_a_table_holds_its_parts_and_defaults():
    rows = [row("a", [1.0])]
    assert table("t", "T", [column("x")], rows) == {
        "id": "t", "title": "T", "note": "", "section": "main", "row_header": "model",
        "columns": [column("x")], "rows": rows}
    t = table("t", "T", [], [], note="n", section="appendix", row_header="dataset")
    assert (t["note"], t["section"], t["row_header"]) == ("n", "appendix", "dataset")


def test_two_candidates_suffice_and_one_is_never_best():
    assert best_and_tied([row("a", [2.0]), row("b", [1.0])], [column("x")])[0] == [[True], [False]]
    one = [row("a", [2.0]), row("b", [9.0], kind="published"), row("c", [8.0], ranked=False)]
    assert best_and_tied(one, [column("x")])[0] == [[False], [False], [False]]


def test_equal_best_values_are_both_best_and_unranked_columns_are_not_marked():
    rows = [row("a", [3.0, 1.0]), row("b", [3.0, 5.0]), row("c", [1.0, 9.0])]
    best, tied = best_and_tied(rows, [column("x"), column("y", better=None)])
    assert best == [[True, False], [True, False], [False, False]]
    assert tied == [[False, False]] * 3


def test_booleans_and_missing_values_are_no_candidates():
    rows = [row("a", [True]), row("b", [0.5]), row("c", [None]), row("d", [0.25])]
    assert best_and_tied(rows, [column("x")])[0] == [[False], [True], [False], [False]]


def test_per_value_flags_of_a_joined_row():
    """``partial`` and ``ranked`` given per value apply to their own column only."""
    rows = [row("a", [9.0, 9.0], partial=[True, False], ranked=[True, False]),
            row("b", [5.0, 5.0]), row("c", [4.0, 4.0])]
    cols = [column("x", complete_only=True), column("y")]
    assert best_and_tied(rows, cols)[0] == [[False, False], [True, True], [False, False]]
    rows = [row("a", [9.0], partial=True), row("b", [5.0])]
    assert best_and_tied(rows, [column("x")])[0] == [[True], [False]]


@pytest.mark.parametrize(("b_interval", "tied"), [
    ([1.0, 2.0], True),   # touching the best's lower end
    ([3.0, 4.0], True),   # touching its upper end
    ([0.0, 1.99], False),
    ([3.01, 4.0], False),
    (None, False),
])
def test_overlapping_intervals_tie_and_touching_ones_overlap(b_interval, tied):
    rows = [row("a", [2.5], intervals=[[2.0, 3.0]]), row("b", [1.5], intervals=[b_interval]),
            row("c", [0.5], intervals=[[0.0, 0.6]])]
    best, ties = best_and_tied(rows, [column("x")])
    assert ties == [[tied], [tied], [False]]
    assert best == ([[False]] * 3 if tied else [[True], [False], [False]])


def test_a_lower_is_better_tie_marks_the_lowest_and_its_overlaps():
    rows = [row("a", [2.0], intervals=[[1.0, 3.0]]), row("b", [2.5], intervals=[[2.9, 3.2]]),
            row("c", [5.0], intervals=[[4.0, 6.0]])]
    best, tied = best_and_tied(rows, [column("mce")])
    assert tied == [[True], [True], [False]] and best == [[False]] * 3


@pytest.mark.parametrize(("value", "text"), [
    (None, "n/a"), (True, "true"), (False, "false"), (7, "7"), (0, "0"), (41.236, "41.24"), (2.0, "2.00"),
    ("9 of 75", "9 of 75"),
])
def test_fmt_prints_integers_as_they_are_and_other_numbers_with_two_decimals(value, text):
    assert fmt(value) == text


@pytest.mark.parametrize(("args", "text"), [
    ((41.2, [40, 42.456], False), "41.20 [40.00, 42.46]"),
    ((41.2, [40.0, 42.0], True), "41.20 [40.00, 42.00] (tied)"),
    ((None, [40.0, 42.0], False), "n/a"),
    ((None, None, True), "n/a (tied)"),
    ((3, None, False), "3"),
])
def test_fmt_cell_adds_the_interval_and_the_tie(args, text):
    assert fmt_cell(*args) == text
