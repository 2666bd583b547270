"""Seeding is a function of (seed, image key, cell) alone: checked as properties over random call orders,
worker counts (threads sharing the process, each with its own numba generator) and caller RNG states."""

from __future__ import annotations

import functools
import hashlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fan_det.corruptions import corrupt, derive_seed

# random-drawing corruptions, including the two whose generators numpy's global seed does not reach
RANDOM_CORRUPTIONS = ["gaussian_noise", "shot_noise", "impulse_noise", "glass_blur", "speckle_noise",
                      "spatter"]
IMAGES = {key: np.random.default_rng(key).integers(0, 256, (32, 40, 3), dtype=np.uint8) for key in range(3)}
JOBS = [(key, c, s) for key in IMAGES for c in RANDOM_CORRUPTIONS for s in (1, 5)]


def _documented_seed(seed: int, key: str, corruption: str, severity: int) -> int:
    """docs/coco_c.md's recipe, written out independently."""
    digest = hashlib.sha256(f"fan_det.coco_c/v1|{seed}|{key}|{corruption}|{severity}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**40), key=st.one_of(st.integers(0, 10**12), st.text(max_size=20)),
       corruption=st.sampled_from(RANDOM_CORRUPTIONS), severity=st.integers(1, 5))
def test_derived_seed_is_the_documented_hash_for_any_key(seed, key, corruption, severity):
    value = derive_seed(seed, key, corruption, severity)
    assert value == _documented_seed(seed, str(key), corruption, severity)
    assert 0 <= value < 2**32


@functools.cache
def _reference() -> dict[tuple, np.ndarray]:
    """Each cell computed alone, in the listed order, on one thread."""
    return {job: corrupt(IMAGES[job[0]], job[1], job[2], seed=11, key=job[0]) for job in JOBS}


@settings(max_examples=12, deadline=None)
@given(order=st.permutations(range(len(JOBS))), workers=st.integers(1, 4),
       caller_seed=st.integers(0, 2**32 - 1))
def test_any_order_and_worker_count_give_the_same_pixels(order, workers, caller_seed):
    reference = _reference()
    np.random.seed(caller_seed)  # whatever the caller's generator holds
    jobs = [JOBS[i] for i in order]

    def run(job):
        # (a draw from numpy's global generator in another thread *during* a cell would shift it: the
        # library draws from that generator, which corrupt() seeds and restores under its lock)
        key, corruption, severity = job
        return job, corrupt(IMAGES[key], corruption, severity, seed=11, key=key)

    with ThreadPoolExecutor(workers) as pool:
        results = dict(pool.map(run, jobs))
    for job, pixels in results.items():
        np.testing.assert_array_equal(pixels, reference[job])
    # and the seed is what decides them: another seed moves every random cell
    key, corruption, severity = jobs[0]
    assert not np.array_equal(corrupt(IMAGES[key], corruption, severity, seed=12, key=key), results[jobs[0]])
