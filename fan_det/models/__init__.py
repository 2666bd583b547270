"""FAN models: importing this package registers every FAN variant in timm's registry.

`timm.create_model("fan_tiny_8_p4_hybrid", pretrained=False)` is the whole API; `checkpoint` reads and
strictly loads the authors' checkpoints with a readable report.
"""

from fan_det.models.checkpoint import CheckpointMismatchError, KeyReport, load_checked, read_checkpoint
from fan_det.models.fan import Fan

__all__ = ["CheckpointMismatchError", "Fan", "KeyReport", "load_checked", "read_checkpoint"]
