"""An evaluation without the images ``--skip-bad`` left out: their dataset dicts (of the clean dataset or
of a materialised cell, whose dicts are the clean ones with another ``file_name``), their keys and their
ground truth, so that a skipped image counts nowhere (no missed objects, no confusion matrix)."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence


def _signature(record: Mapping) -> str:
    """A dataset dict apart from its ``file_name``: the same for an image and its corrupted copies."""
    return json.dumps({k: v for k, v in record.items() if k != "file_name"}, sort_keys=True, default=str)


def kept_records(base: Sequence[dict], records: Sequence[dict], left_out: Collection[str]) -> list[dict]:
    """``records`` (``base``'s dicts, or a materialised cell's copies of them) without the images whose
    ``base`` ``file_name`` is in ``left_out``."""
    if not left_out:
        return list(records)
    gone = {_signature(b) for b in base if b["file_name"] in left_out}
    return [r for r in records if _signature(r) not in gone]


def kept_positions(base: Sequence[dict], left_out: Collection[str]) -> list[int]:
    """Positions in ``base`` of the images evaluated."""
    return [i for i, b in enumerate(base) if b["file_name"] not in left_out]


def left_out_ids(base: Sequence[dict], left_out: Collection[str]) -> set[int]:
    """The ``image_id`` of each image left out."""
    return {b["image_id"] for b in base if b["file_name"] in left_out}


def without_images(ground_truth: Mapping, image_ids: Collection[int]) -> dict:
    """A COCO json dict without ``image_ids``' images and annotations (what pycocotools scores)."""
    return {**ground_truth, "images": [i for i in ground_truth["images"] if i["id"] not in image_ids],
            "annotations": [a for a in ground_truth["annotations"] if a["image_id"] not in image_ids]}
