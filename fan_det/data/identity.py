"""Which image is which, for any detectron2 dataset: the key that seeds its corruptions and names its
materialised files, and the hash that says two datasets are the same.

COCO-style dicts carry an ``image_id``; detectron2's semantic-segmentation loaders (Cityscapes, ADE20K)
give only ``file_name`` and ``sem_seg_file_name``. The key is the ``image_id`` where there is one, else
the image's path relative to the dataset's image folder (metadata ``image_root``, or ``image_dir`` as the
Cityscapes loaders record it): the same on every machine, whatever the folder is called there.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from fan_det.runtime.hashing import sha256_file, sha256_json

ROOT_KEYS = ("image_root", "image_dir")  # where detectron2's registrations record the image folder


class ImageKeyError(ValueError):
    """A dataset dict without ``image_id`` whose file does not lie under the dataset's image folder."""


def image_key(record: Mapping, root: str | os.PathLike | None = None) -> int | str:
    """The image's identity within its dataset: ``image_id``, else ``file_name`` relative to ``root``."""
    if "image_id" in record:
        return record["image_id"]
    if root is None:
        raise ImageKeyError(f"{record.get('file_name')} has no image_id and its dataset records no image "
                            f"folder ({' or '.join(ROOT_KEYS)} in its metadata)")
    try:
        return Path(record["file_name"]).relative_to(root).as_posix()
    except ValueError:
        raise ImageKeyError(f"{record['file_name']} has no image_id and is not inside its dataset's image "
                            f"folder {root}") from None


def dataset_root(dataset: str) -> str | None:
    """The image folder a registered dataset's metadata records (None if it records none)."""
    from detectron2.data import MetadataCatalog

    meta = MetadataCatalog.get(dataset)
    return next((str(meta.get(k)) for k in ROOT_KEYS if meta.get(k)), None)


def dataset_keys(dataset: str) -> list[int | str]:
    """Every image's key, in the registered dataset's order."""
    from detectron2.data import DatasetCatalog

    root = dataset_root(dataset)
    return [image_key(d, root) for d in DatasetCatalog.get(dataset)]


def record_identity(record: Mapping, root: str | None) -> list:
    """What makes one image's evaluation what it is, apart from its pixels: its key, file name and every
    ground truth it has (instance ``annotations``; the bytes of a ``sem_seg_file_name`` label image)."""
    row = [image_key(record, root), Path(record["file_name"]).name, record.get("annotations", [])]
    if "sem_seg_file_name" in record:
        row.append(sha256_file(record["sem_seg_file_name"]))
    return row


def dataset_identity(dataset: str) -> tuple[int, str]:
    """Image count and a hash of every image's key, file name and ground truth (not of where files live)."""
    from detectron2.data import DatasetCatalog

    dicts = DatasetCatalog.get(dataset)
    root = dataset_root(dataset)
    return len(dicts), sha256_json([record_identity(d, root) for d in dicts])
