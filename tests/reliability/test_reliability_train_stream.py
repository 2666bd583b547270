"""Promise: the training data stream is a function of (seed, position) alone, so its checkpointed state
continues it exactly, whatever the number of loader workers, and mapping leaves the trainer's random
streams alone. Cheap: a fake dataset and a mapper that draws from every generator."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fan_det.detection.resume import (
    PositionedOrder,
    ResumableBatches,
    ResumeState,
    SeededStream,
    preserved_random_state,
)

SIZES = [(64, 48), (48, 64), (80, 40), (40, 80), (50, 50), (96, 32), (32, 96)]
DICTS = [{"image_id": i, "width": SIZES[i % 7][0], "height": SIZES[i % 7][1]} for i in range(11)]


def _mapper(d: dict) -> dict:
    """An augmentation that draws from Python's, numpy's and torch's generators, like detectron2's."""
    return {**d, "draws": (random.random(), float(np.random.uniform()), float(torch.rand(())))}


def _batches(seed: int, batch_size: int, *, workers: int = 0, state: dict | None = None) -> ResumableBatches:
    batches = ResumableBatches(SeededStream(DICTS, _mapper, seed=seed), batch_size, num_workers=workers)
    if state is not None:
        batches.load_state_dict(state)
    return batches


def _take(batches: ResumableBatches, count: int) -> list[list[tuple]]:
    out = []
    for batch in batches:
        out.append([(d["image_id"], d["stream_position"], d["draws"]) for d in batch])
        if len(out) == count:
            return out
    raise AssertionError("the stream ended")


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), batch_size=st.integers(1, 4), cut=st.integers(0, 8))
def test_state_after_any_batch_continues_the_stream_exactly(seed, batch_size, cut):
    whole = _take(_batches(seed, batch_size), cut + 4)
    first = _batches(seed, batch_size)
    if cut:
        assert _take(first, cut) == whole[:cut]
    resumed = _batches(seed, batch_size, state=first.state_dict())
    assert _take(resumed, 4) == whole[cut:]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), batch_size=st.integers(1, 4))
def test_batches_group_by_aspect_and_each_epoch_visits_every_image_once(seed, batch_size):
    batches = _take(_batches(seed, batch_size), 12)
    for batch in batches:
        assert len(batch) == batch_size
        assert len({DICTS[i]["width"] > DICTS[i]["height"] for i, _, _ in batch}) == 1
    order = PositionedOrder(len(DICTS), seed)
    for epoch in range(3):
        assert sorted(order.index(epoch * len(DICTS) + k) for k in range(len(DICTS))) == list(range(11))


def test_worker_count_changes_nothing():
    alone = _take(_batches(7, 2), 6)
    assert _take(_batches(7, 2, workers=2), 6) == alone
    assert _take(_batches(8, 2), 6) != alone  # and the seed does matter


def test_mapping_leaves_the_callers_random_streams_alone():
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    _take(_batches(3, 2), 3)
    assert (random.random(), np.random.uniform(), float(torch.rand(()))) == _fresh_draws(1)


def test_preserved_random_state_restores_every_generator():
    random.seed(5), np.random.seed(5), torch.manual_seed(5)
    with preserved_random_state():
        random.random(), np.random.uniform(), torch.rand(3)
    assert (random.random(), np.random.uniform(), float(torch.rand(()))) == _fresh_draws(5)


def _fresh_draws(seed: int) -> tuple[float, float, float]:
    random.seed(seed), np.random.seed(seed), torch.manual_seed(seed)
    return random.random(), np.random.uniform(), float(torch.rand(()))


def test_an_empty_training_set_is_refused():
    with pytest.raises(ValueError, match="empty"):
        PositionedOrder(0, seed=0)


def test_a_checkpoint_of_more_processes_continues_after_every_image_they_saw():
    batches = _batches(3, 2)
    processes = [{"data": {"next_position": 8, "pending": [6]}, "random": {}, "averages": {}},
                 {"data": {"next_position": 13, "pending": [9]}, "random": {}, "averages": {}}]
    hook = ResumeState(batches, checkpoint_period=2, max_iter=10)
    hook.load_state_dict({"seed": 5, "processes": processes})
    # the checkpoint's seed, from the furthest position seen, nothing pending
    expected = _take(_batches(5, 2, state={"next_position": 13, "pending": []}), 3)
    assert _take(batches, 3) == expected
    assert min(p for batch in expected for _, p, _ in batch) == 13
