"""A stand-in for the builder's tqdm bar, shared by the tests that read what a build shows."""

from __future__ import annotations


class RecordingBar:
    """Records how the bar was asked for, every update, and the total at each update."""

    made: list = []

    def __init__(self, **kwargs):
        self.kwargs, self.total, self.updates, self.totals = kwargs, kwargs["total"], [], []
        RecordingBar.made.append(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n):
        self.updates.append(n)
        self.totals.append((n, self.total))
