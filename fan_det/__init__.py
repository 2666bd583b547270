"""fan_det: robustness of vision backbones, built around FAN (Fully Attentional Networks).

Importing the package registers every FAN variant in timm's model registry: at once when timm is
already imported, else right after timm's own import. A process that never imports timm (a COCO-C
builder worker) so never loads torch and timm (seconds and about 1 GB per process).
"""

__version__ = "0.1.0"

import importlib
import importlib.abc
import importlib.util
import sys


class _RegisterWithTimm(importlib.abc.MetaPathFinder):
    """Runs ``import fan_det.models`` (the ``@register_model`` calls) once timm's import has finished."""

    def find_spec(self, name, path, target=None):
        if name != "timm":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec("timm")
        if spec is None or spec.loader is None:
            return spec
        exec_timm = spec.loader.exec_module

        def exec_then_register(module) -> None:
            exec_timm(module)
            importlib.import_module("fan_det.models")

        spec.loader.exec_module = exec_then_register
        return spec


if "timm" in sys.modules:
    importlib.import_module("fan_det.models")
elif not any(isinstance(finder, _RegisterWithTimm) for finder in sys.meta_path):
    sys.meta_path.insert(0, _RegisterWithTimm())
