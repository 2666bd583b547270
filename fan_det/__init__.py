"""fan_det: robustness of vision backbones, built around FAN (Fully Attentional Networks).

Importing the package registers every FAN variant in timm's model registry.
"""

__version__ = "0.1.0"

from fan_det import models  # noqa: F401,E402  (registers every FAN variant in timm)
