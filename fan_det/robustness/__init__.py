"""COCO-C evaluation of detectron2 models: cell planning, the resumable cell cache, inference per cell
(``fan_det.robustness.inference``, ``.model``, ``.runner``) and the ``robustness.json`` results file.
The command line is ``python -m fan_det.eval_coco_c``."""

from fan_det.protocol import CLEAN, Cell, plan_cells  # noqa: F401
from fan_det.robustness.cache import CellCache  # noqa: F401
from fan_det.robustness.results import (  # noqa: F401
    SCHEMA,
    load_robustness,
    robustness_document,
    summary_cells,
    write_robustness,
)
