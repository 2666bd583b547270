"""The cells of a COCO-C evaluation: the clean run first, then every (corruption, severity) pair."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

CLEAN = "clean"


class Cell(NamedTuple):
    """One evaluation of the whole dataset: ``("clean", 0)`` or a corruption at severity 1-5."""

    corruption: str
    severity: int

    @property
    def name(self) -> str:
        """File-name-safe label, e.g. ``gaussian_noise-3``."""
        return f"{self.corruption}-{self.severity}"

    @property
    def is_clean(self) -> bool:
        return self.corruption == CLEAN


def plan_cells(corruptions: Sequence[str], severities: Sequence[int]) -> list[Cell]:
    """The clean cell, then corruption-major order (all severities of one corruption together)."""
    return [Cell(CLEAN, 0)] + [Cell(c, s) for c in corruptions for s in severities]
