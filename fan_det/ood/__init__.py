"""OOD classification evaluation: ImageNet-A/-R/-Sketch/-C and val for any classifier (``eval_ood``)."""

from fan_det.ood.image_folders import DatasetLayoutError, WnidImageFolder, imagenet_c_cells, load_rgb  # noqa: F401
from fan_det.ood.classifier import LoadedModel, load_model  # noqa: F401
from fan_det.ood.pipeline import DATASETS, run_ood  # noqa: F401
from fan_det.ood.preprocess import build_transform, resolve_preprocessing  # noqa: F401
from fan_det.ood.results import load_ood_json, write_ood_json  # noqa: F401
from fan_det.ood.synsets import imagenet_wnids, subset_indices, subset_wnids  # noqa: F401
