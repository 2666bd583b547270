"""Fixtures shared by the reliability tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def counting(monkeypatch):
    """Counts the OOD datasets actually evaluated (not taken from the cache)."""
    import fan_det.ood.pipeline as pipeline

    calls: list[str] = []
    real = pipeline.evaluate

    def evaluate(*args, **kwargs):
        calls.append(kwargs["desc"])
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "evaluate", evaluate)
    return calls
