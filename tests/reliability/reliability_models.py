"""Classifiers that misbehave in one way each, as ``--model reliability_models:<name>`` callables."""

from __future__ import annotations

import torch
from torch import nn

from fan_det.zoo.tiny_random import DATA_CONFIG, TinyClassifier


class _NaNFromBatch(TinyClassifier):
    """The tiny classifier, whose logits turn NaN from its second forward pass on (one image per batch)."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        logits = super().forward(x)
        return logits if self.calls < 2 else torch.full_like(logits, float("nan"))


AUX_CLASS = 7  # the class the logits of ``with_aux`` always pick (its aux output picks the next one)


class _WithAux(TinyClassifier):
    """Returns ``(logits, aux)`` like models with an auxiliary head: logits peaked at ``AUX_CLASS``, an
    auxiliary output peaked elsewhere (so taking the wrong element scores 0% on ``AUX_CLASS`` images)."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        noise = super().forward(x) * 1e-3
        logits, aux = noise.clone(), noise.clone()
        logits[:, AUX_CLASS] += 10
        aux[:, AUX_CLASS + 1] += 10
        return logits, aux


class _Dict(TinyClassifier):
    def forward(self, x: torch.Tensor) -> dict:
        return {"logits": super().forward(x)}


def nan_logits() -> tuple[nn.Module, dict]:
    return _NaNFromBatch(), dict(DATA_CONFIG)


def with_aux() -> tuple[nn.Module, dict]:
    return _WithAux(), dict(DATA_CONFIG)


def as_dict() -> tuple[nn.Module, dict]:
    return _Dict(), dict(DATA_CONFIG)
