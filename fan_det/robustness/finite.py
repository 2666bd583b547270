"""A detector's or segmenter's non-finite outputs are refused, naming the batch, instead of dying in
detectron2's ``Box tensor contains infinite or NaN!`` assertion, scoring NaN scores as no detection at all,
or taking the argmax of NaN logits (class 0 everywhere) as a segmentation.

The features of the backbone and the outputs of every head (modules named ``...head`` or
``...predictor``: RetinaNet's head, the RPN head, the R-CNN box predictor, mask and segmentation heads)
are checked as they are computed, then the boxes and scores, or the per-pixel logits, returned.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from fan_det.runtime.finite import NonFiniteOutputError, check_finite, non_finite_message


def _tensors(value: object) -> Iterator[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _tensors(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _tensors(item)


class FiniteDetector:
    """Calls the detector (or segmenter) on a batch (in place of the model, for ``inference_on_dataset``)
    and raises ``NonFiniteOutputError`` naming ``model``, ``dataset`` and the batch (from 1) at a non-finite
    value."""

    def __init__(self, model: nn.Module, *, model_label: str, dataset: str):
        self.model, self.label, self.dataset, self.batch = model, model_label, dataset, 0

    def _check(self, what: str, value: object) -> None:
        for tensor in _tensors(value):
            if tensor.is_floating_point():
                check_finite(tensor, what=what, model=self.label, dataset=self.dataset, batch=self.batch)

    def __call__(self, inputs: list[dict]) -> list[dict]:
        self.batch += 1
        try:
            outputs = self.model(inputs)
        except AssertionError as error:  # detectron2's Boxes.clip on non-finite boxes
            if "infinite or NaN" not in str(error):
                raise
            raise NonFiniteOutputError(non_finite_message("non-finite boxes", model=self.label,
                                                          dataset=self.dataset, batch=self.batch)) from None
        for output in outputs:
            instances = output.get("instances")
            if instances is not None:
                self._check("boxes", instances.pred_boxes.tensor)
                self._check("scores", instances.scores)
            if "sem_seg" in output:
                self._check("segmentation logits", output["sem_seg"])
        return outputs


@contextlib.contextmanager
def finite_outputs(model: nn.Module, *, model_label: str, dataset: str) -> Iterator[FiniteDetector]:
    """``FiniteDetector`` of ``model``, with the backbone's and heads' outputs checked while it is open."""
    guard = FiniteDetector(model, model_label=model_label, dataset=dataset)
    modules = model.named_modules() if isinstance(model, nn.Module) else ()  # a stand-in has none to hook
    watched = [(name, module) for name, module in modules
               if name == "backbone" or name.endswith(("head", "predictor"))]
    hooks = [module.register_forward_hook(lambda _m, _i, out, name=name: guard._check(f"{name} outputs", out))
             for name, module in watched]
    try:
        yield guard
    finally:
        for hook in hooks:
            hook.remove()
