"""Weights for FAN detectors: ImageNet checkpoints for the trunk, and whole-detector checkpoints.

``load_imagenet_weights``: a classification checkpoint fits the trunk except for the new stride-32 conv
(``res5_conv.*``, missing from the checkpoint) and the classifier's ``norm.*`` / ``head.*`` (unused by
detection). Any other difference means the wrong variant or a broken file, and is an error with the key
report.

``load_detector_weights`` (and the trainer's checkpointer): detectron2's ``DetectionCheckpointer``, which
on its own loads whatever fits and only logs the rest, made strict: a checkpoint that does not fit the
detector (say a timm classifier under a RetinaNet config) is refused with the key report unless a partial
load is asked for. Files are read with ``weights_only=True``: a checkpoint never runs code.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import sys
from typing import Any

import numpy as np
import torch
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.checkpoint.c2_model_loading import align_and_update_state_dicts
from detectron2.utils import comm
from fvcore.common.checkpoint import _strip_prefix_if_present
from torch import nn

from fan_det.detection.backbone import FANBackbone
from fan_det.models.checkpoint import (
    CheckpointMismatchError,
    CheckpointNotFoundError,
    KeyReport,
    check_keys,
    load_checked,
    read_checkpoint,
    resolve_source,
)

logger = logging.getLogger(__name__)

UNUSED_PREFIXES = ("norm.", "head.")
NEW_PREFIXES = ("res5_conv.",)


class WeightsError(ValueError):
    """A weights file that cannot be used at all: absent, not a checkpoint, or holding non-tensors."""


def resolve_weights(source: str) -> str:
    """``MODEL.FAN.WEIGHTS`` as a path or URL (``fan_det.models.checkpoint.resolve_source``)."""
    try:
        return resolve_source(source)
    except CheckpointNotFoundError as error:
        raise CheckpointNotFoundError(f"MODEL.FAN.WEIGHTS: {error}") from None


def load_imagenet_weights(trunk: FANBackbone, source: str) -> KeyReport:
    """Load ``source`` (path, URL or timm tag) into ``trunk``; raise unless only expected keys differ.

    Returns the key report (``missing`` = new layers, ``unexpected`` = unused classifier keys), which is
    also logged.
    """
    state = read_checkpoint(resolve_weights(source))
    report = load_checked(trunk, {f"model.{k}": v for k, v in state.items()}, strict=False)
    # Report keys as the checkpoint names them (the trunk holds the timm model as `model`).
    report.missing = [k.removeprefix("model.") for k in report.missing]
    report.unexpected = [k.removeprefix("model.") for k in report.unexpected]
    report.mismatched = [(k.removeprefix("model."), a, b) for k, a, b in report.mismatched]
    bad_missing = [k for k in report.missing if not k.startswith(NEW_PREFIXES)]
    bad_unused = [k for k in report.unexpected if not k.startswith(UNUSED_PREFIXES)]
    if bad_missing or bad_unused or report.mismatched:
        raise CheckpointMismatchError(
            f"{source} does not fit the {trunk.model_name} detection trunk: "
            f"only {NEW_PREFIXES} may be missing and {UNUSED_PREFIXES} unused.\n{report}")
    loaded = len(state) - len(report.unexpected)
    logger.info("FAN trunk weights from %s: %d tensors loaded, missing (new) %s, unused %s",
                source, loaded, report.missing, report.unexpected)
    return report


class _ArraysOnly(pickle.Unpickler):
    """detectron2 model-zoo ``.pkl`` files hold numpy arrays: allow those, never arbitrary code."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
               ("numpy._core.multiarray", "scalar"), ("collections", "OrderedDict")}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


class StrictDetectionCheckpointer(DetectionCheckpointer):
    """``DetectionCheckpointer`` that refuses a checkpoint not fitting the model, unless ``allow_partial``.

    Same loading rules otherwise (``model`` wrapper, ``module.`` prefixes, model-zoo ``.pkl`` name
    matching, resume from ``last_checkpoint``). ``last_report`` holds the key report of the last load.
    """

    def __init__(self, model: nn.Module, save_dir: str = "", *, allow_partial: bool = False,
                 **checkpointables: Any):
        super().__init__(model, save_dir, **checkpointables)
        self.allow_partial = allow_partial
        self.last_report: KeyReport | None = None
        self._source = ""

    def load(self, path: str, *args, **kwargs) -> dict[str, Any]:
        if path and "://" not in path and not os.path.isfile(path):
            raise WeightsError(f"no weights file at {path}: give MODEL.WEIGHTS an existing checkpoint "
                               f"(or '' to start from scratch)")
        self._source = path
        return super().load(path, *args, **kwargs)

    def _load_file(self, filename: str) -> dict[str, Any]:
        if filename.endswith(".pkl"):  # detectron2 reads these with plain pickle, which can run code
            try:
                with open(filename, "rb") as f:
                    data = _ArraysOnly(f, encoding="latin1").load()
            except Exception as error:
                raise WeightsError(f"{self._source} is not a detectron2 model-zoo .pkl of arrays "
                                   f"({type(error).__name__}: {_first_line(error)})") from None
            if not isinstance(data, dict):
                raise WeightsError(f"{self._source} holds a {type(data).__name__}, not a dict of weights")
            if "model" in data and "__author__" in data:
                return data
            data = data.get("blobs", data)  # Caffe2 detection models keep their weights under "blobs"
            data = {k: v for k, v in data.items() if not k.endswith("_momentum")}
            return {"model": data, "__author__": "Caffe2", "matching_heuristics": True}
        return super()._load_file(filename)

    def _torch_load(self, f: str) -> Any:
        try:
            loaded = torch.load(f, map_location="cpu", weights_only=True)
        except Exception as error:  # an arbitrary file can fail the unpickler in many ways
            found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(error))
            if found:  # torch suggests weights_only=False here: never for a file of unknown origin
                raise WeightsError(
                    f"{self._source} holds a Python object ({found.group(1)}) besides tensors and plain "
                    "containers; it is not loaded, since that could run code: re-save it as "
                    "{'model': model.state_dict()}") from None
            raise WeightsError(f"{self._source} is not a PyTorch checkpoint (torch.load failed with "
                               f"{type(error).__name__})") from None
        if not isinstance(loaded, dict):
            raise WeightsError(f"{self._source} holds a {type(loaded).__name__}, not a dict of weights")
        return loaded

    def _load_model(self, checkpoint: dict[str, Any]) -> Any:
        state = checkpoint["model"]
        if not isinstance(state, dict):
            raise WeightsError(
                f"{self._source}: its 'model' entry is a {type(state).__name__}, not a state_dict")
        for key, value in state.items():
            if not isinstance(value, (torch.Tensor, np.ndarray)):
                raise WeightsError(f"{self._source}: entry {key!r} is a {type(value).__name__}, not a "
                                   "tensor; a checkpoint's 'model' must map names to tensors")
        self._convert_ndarray_to_tensor(state)
        _strip_prefix_if_present(state, "module.")
        state = checkpoint["model"] = trunk_keys_as_backbone(self.model, state)
        if checkpoint.pop("matching_heuristics", False):  # name matching for model-zoo files, done once here
            state = align_and_update_state_dicts(
                self.model.state_dict(), state, c2_conversion=checkpoint.get("__author__") == "Caffe2")
            checkpoint["model"] = state
        report = check_keys(self.model, state)
        # as DetectionCheckpointer: old checkpoints keep anchors, which are now non-persistent buffers
        report.unexpected = [k for k in report.unexpected if "anchor_generator.cell_anchors" not in k]
        self.last_report = report
        if not report.ok:
            if not self.allow_partial:
                raise CheckpointMismatchError(
                    f"{self._source} does not fit the model: {report.one_line()}; check that config and "
                    "weights belong together, or allow a partial load (--allow-partial-weights)")
            if comm.is_main_process():
                print(f"warning: PARTIAL LOAD of {self._source}: only the keys that fit were loaded, "
                      f"the rest keeps its initialisation.\n{report}", file=sys.stderr)
        return super()._load_model(checkpoint)


def trunk_keys_as_backbone(model: nn.Module, state: dict[str, Any]) -> dict[str, Any]:
    """A detector's trunk keys (``backbone.bottom_up.*``, under its pyramid) renamed ``backbone.*`` when
    ``model``'s backbone is the trunk itself (semantic segmentation), so that the trunk transfers and
    only the pyramid and heads are left over; otherwise ``state`` unchanged."""
    own = model.state_dict()
    if any(k.startswith("backbone.bottom_up.") for k in own):
        return state
    if not any(k.startswith("backbone.bottom_up.") for k in state):
        return state
    renamed = {"backbone." + k.removeprefix("backbone.bottom_up."): v for k, v in state.items()
               if k.startswith("backbone.bottom_up.")}
    return {**{k: v for k, v in state.items() if not k.startswith("backbone.bottom_up.")}, **renamed}


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def load_detector_weights(model: nn.Module, path_or_url: str, *, allow_partial: bool = False) -> KeyReport:
    """Load a detector checkpoint (path or URL, detectron2 ``.pth`` / model-zoo ``.pkl``) into ``model``.

    Raises ``WeightsError`` for a file that is absent or is no checkpoint of tensors, and
    ``CheckpointMismatchError`` (one line: counts and examples of missing / unexpected / wrong-shape keys)
    when it does not fit, unless ``allow_partial``, which loads the keys that fit and prints the full
    report on stderr. Returns the key report (``report.ok``: everything fitted).
    """
    if not path_or_url:
        raise WeightsError("no weights given: name a checkpoint file or URL")
    checkpointer = StrictDetectionCheckpointer(model, allow_partial=allow_partial)
    checkpointer.load(path_or_url, checkpointables=[])
    assert checkpointer.last_report is not None
    return checkpointer.last_report
