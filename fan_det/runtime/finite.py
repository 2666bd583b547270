"""Non-finite model outputs are refused, never scored: a NaN logit compares false, so the target would
rank first and score 100% top-1; NaN scores fall below every detection threshold and score 0."""

from __future__ import annotations

import torch


class NonFiniteOutputError(ValueError):
    """A model gave NaN or infinite outputs; the message names the model, the dataset and the batch."""


def check_finite(values: torch.Tensor, *, what: str, model: str, dataset: str, batch: int) -> None:
    """Raise ``NonFiniteOutputError`` unless every value is finite (``batch`` counts from 1)."""
    finite = torch.isfinite(values)
    if not bool(finite.all()):
        found = f"{int((~finite).sum())} non-finite {what}"
        raise NonFiniteOutputError(non_finite_message(found, model=model, dataset=dataset, batch=batch))


def non_finite_message(found: str, *, model: str, dataset: str, batch: int) -> str:
    """The one refusal of every tool: what was found, where, and that nothing of the run was written."""
    return (f"model {model} gave {found} on {dataset}, batch {batch}; nothing of this run was written "
            "(check the weights for NaN, and try without mixed precision)")
