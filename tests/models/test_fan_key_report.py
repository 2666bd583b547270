"""The key report's text, worked by hand: an exact match in one line, otherwise the counts, then each
kind of difference under its heading, at most 20 keys listed per kind; its one-line form; a non-dict
checkpoint is named; the EMA weights are unwrapped unless asked otherwise."""

from __future__ import annotations

import pytest
import torch

from fan_det.models.checkpoint import KeyReport, unwrap_state_dict


def test_a_match_is_one_line():
    assert str(KeyReport()) == "checkpoint matches the model: every key present with the right shape"


def test_every_difference_is_listed_under_its_heading_at_most_20_per_kind():
    missing = [f"blocks.{i}.weight" for i in range(22)]
    report = KeyReport(missing, ["head.bias"], [("head.weight", (10, 4), (5, 4))])
    assert str(report).splitlines() == [
        "checkpoint does not match the model: 22 missing, 1 unexpected, 1 wrong shape",
        "  missing (in the model, not in the checkpoint):",
        *[f"    blocks.{i}.weight" for i in range(20)],
        "    ... and 2 more",
        "  unexpected (in the checkpoint, not in the model):",
        "    head.bias",
        "  wrong shape (checkpoint vs model):",
        "    head.weight: [10, 4] vs [5, 4]",
    ]


def test_exactly_20_keys_need_no_remainder_line():
    report = KeyReport([f"k{i}" for i in range(20)], [], [])
    assert str(report).splitlines()[-1] == "    k19"


def test_a_checkpoint_that_is_not_a_dict_is_named():
    with pytest.raises(TypeError, match=r"^a checkpoint must be a dict, got list$"):
        unwrap_state_dict([1, 2])


def test_the_ema_weights_are_read_by_default():
    raw, ema = {"weight": torch.rand(2)}, {"weight": torch.rand(2)}
    assert unwrap_state_dict({"state_dict": raw, "state_dict_ema": ema})["weight"] is ema["weight"]


def test_the_one_line_form_gives_counts_and_the_first_keys_of_each_kind():
    report = KeyReport(["a.w", "b.w", "c.w", "d.w"], ["u.1", "u.2", "u.3"], [("s.w", (2, 3), (3, 2))])
    assert report.one_line() == ("4 missing (e.g. a.w, b.w, c.w, ...); 3 unexpected (e.g. u.1, u.2, u.3); "
                                 "1 wrong shape (e.g. s.w [2, 3] vs [3, 2])")
    assert report.one_line(examples=1) == ("4 missing (e.g. a.w, ...); 3 unexpected (e.g. u.1, ...); "
                                           "1 wrong shape (e.g. s.w [2, 3] vs [3, 2])")
    assert KeyReport([], ["u.1"], []).one_line() == "0 missing; 1 unexpected (e.g. u.1); 0 wrong shape"
