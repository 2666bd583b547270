"""COCO-C corruptions: names and sets, reproducible ``corrupt``, on-the-fly mapper, materialised cells.

``CorruptedDatasetMapper`` and ``register_coco_c`` import detectron2 (and torch) on first use only.
"""

from fan_det.corruptions.builder import BuildReport, ImageEntry, Settings, build_coco_c, load_images
from fan_det.corruptions.core import corrupt, derive_seed
from fan_det.corruptions.imageio import ImageReadError, read_rgb
from fan_det.corruptions.manifest import BuildError, read_manifest
from fan_det.corruptions.shards import merge_shards
from fan_det.corruptions.verify import VerifyReport, verify_coco_c
from fan_det.protocol import (
    ALL_CORRUPTIONS,
    BENCHMARK,
    CORRUPTION_SETS,
    HOLDOUT,
    SEVERITIES,
    parse_severities,
    resolve_corruptions,
)

__all__ = [
    "ALL_CORRUPTIONS", "BENCHMARK", "CORRUPTION_SETS", "HOLDOUT", "SEVERITIES", "BuildError", "BuildReport",
    "CorruptedDatasetMapper", "ImageEntry", "ImageReadError", "Settings", "VerifyReport", "build_coco_c",
    "corrupt", "derive_seed", "load_images", "merge_shards", "parse_severities", "read_manifest", "read_rgb",
    "register_coco_c", "resolve_corruptions", "verify_coco_c",
]


def __getattr__(name: str):
    if name == "CorruptedDatasetMapper":
        from fan_det.corruptions.mapper import CorruptedDatasetMapper

        return CorruptedDatasetMapper
    if name == "register_coco_c":
        from fan_det.corruptions.register import register_coco_c

        return register_coco_c
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
