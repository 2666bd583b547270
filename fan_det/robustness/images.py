"""The images a detector evaluation reads, checked before any inference: one that cannot be read
(missing, truncated, undecodable, a broken link) is refused in one line naming the file, as
``build_coco_c`` and ``eval_ood`` refuse it, instead of a traceback from a loader worker mid-run."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from detectron2.data import DatasetCatalog
from tqdm import tqdm

from fan_det.corruptions.imageio import ImageReadError, read_rgb
from fan_det.robustness.options import OptionError
from fan_det.runtime.unreadable import unreadable_message

# A detection score counts every annotated image of the dataset, so an image cannot be skipped alone.
FIX = "replace the file, or remove it and its annotations from the dataset"


def _problem(path: str) -> ImageReadError | None:
    try:
        read_rgb(path)  # the decoder of build_coco_c, EXIF and modes as detectron2 reads them
    except ImageReadError as error:
        return error
    return None


def check_images_readable(dataset: str) -> None:
    """Decode every image of the registered ``dataset`` once (threads: decoders release the GIL); raise
    ``OptionError`` naming the first file, in dataset order, that cannot be read."""
    paths = [d["file_name"] for d in DatasetCatalog.get(dataset)]
    with ThreadPoolExecutor(min(8, os.cpu_count() or 1)) as pool:
        found = pool.map(_problem, paths)
        for error in tqdm(found, total=len(paths), desc=f"read {dataset}", leave=False):
            if error is not None:
                raise OptionError(unreadable_message(error.path, error.reason, FIX))
