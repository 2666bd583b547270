"""Initialise a FAN detection trunk from an ImageNet FAN checkpoint, allowing only the expected extras.

A classification checkpoint fits the trunk except for: the new stride-32 conv (``res5_conv.*``, missing
from the checkpoint) and the classifier's ``norm.*`` / ``head.*`` (unused by detection). Any other
difference means the wrong variant or a broken file, and is an error with the full key report.
"""

from __future__ import annotations

import logging
from pathlib import Path

import timm

from fan_det.detection.backbone import FAN
from fan_det.models.checkpoint import CheckpointMismatchError, KeyReport, load_checked, read_checkpoint

logger = logging.getLogger(__name__)

UNUSED_PREFIXES = ("norm.", "head.")
NEW_PREFIXES = ("res5_conv.",)


def resolve_weights(source: str) -> str:
    """A local path or URL as given; a timm tag (``fan_small_12_p4_hybrid.<tag>``) becomes its URL."""
    if Path(source).expanduser().exists():
        return str(Path(source).expanduser())
    if "://" in source:
        return source
    try:
        url = timm.models.get_pretrained_cfg(source).url
    except Exception:  # timm raises several types for unknown names
        url = None
    if not url:
        raise FileNotFoundError(
            f"MODEL.FAN.WEIGHTS={source!r} is not an existing file, a URL, nor a timm tag with a URL")
    return url


def load_imagenet_weights(trunk: FAN, source: str) -> KeyReport:
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
