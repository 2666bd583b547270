"""The images a detectron2 evaluation reads, checked before any inference, under the policy of every tool
(``fan_det.runtime.unreadable``): one that cannot be read (missing, truncated, undecodable, a broken
link) is refused in one line naming the file, or under ``--skip-bad`` left out of the evaluation, ground
truth included, and recorded with its path, instead of a traceback from a loader worker mid-run.

A materialised COCO-C holds no copies of an image its build skipped: such an image cannot be read in
those cells and goes through the same policy. A skipped image is left out of every cell of the grid (the
clean one too), so that P, mPC and rPC compare the same images.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

from detectron2.data import DatasetCatalog
from PIL import Image
from tqdm import tqdm

from fan_det.corruptions import read_manifest
from fan_det.corruptions.imageio import ImageReadError, read_rgb
from fan_det.corruptions.manifest import cell_file
from fan_det.data.identity import dataset_root, image_key
from fan_det.protocol import Cell
from fan_det.robustness.options import OptionError
from fan_det.runtime.unreadable import unreadable_message, warn_skipping


class Unreadable(NamedTuple):
    """A dataset image left out: ``image`` (its dataset ``file_name``), the ``path`` that cannot be read
    (the image itself, or a corrupted copy of it) and why."""

    image: str
    path: str
    reason: str


def _problem(path: str) -> ImageReadError | None:
    try:
        read_rgb(path)  # the decoder of build_coco_c, EXIF and modes as detectron2 reads them
    except ImageReadError as error:
        return error
    return None


def _decode_all(problem: Callable[[str], object], paths: list[str], desc: str) -> list:
    """``problem`` of every path, in order, on threads (decoders release the GIL), with a progress bar."""
    with ThreadPoolExecutor(min(8, os.cpu_count() or 1)) as pool:
        return list(tqdm(pool.map(problem, paths), total=len(paths), desc=desc, leave=False))


def unreadable_images(dataset: str) -> list[Unreadable]:
    """Decode every image of the registered ``dataset`` once (threads: decoders release the GIL); those
    that cannot be read, in dataset order."""
    paths = [d["file_name"] for d in DatasetCatalog.get(dataset)]
    found = _decode_all(_problem, paths, f"read {dataset}")
    return [Unreadable(path, e.path, e.reason) for path, e in zip(paths, found, strict=True) if e is not None]


def _label_problem(path: str) -> str | None:
    try:
        with Image.open(path) as label:
            label.load()
    except (OSError, SyntaxError, ValueError) as error:  # missing, truncated or not an image
        return str(error) or type(error).__name__
    return None


def check_labels_readable(dataset: str, left_out: Collection[str] = ()) -> None:
    """Decode the label file of every image of a semantic-segmentation ``dataset`` (those with a
    ``sem_seg_file_name``) not ``left_out``; ``OptionError`` naming the first that cannot be read. Ground
    truth is never skipped: an image without its labels cannot be scored, and leaving it out would change
    what the number means without the user's word."""
    paths = [d["sem_seg_file_name"] for d in DatasetCatalog.get(dataset)
             if "sem_seg_file_name" in d and d["file_name"] not in left_out]
    found = _decode_all(_label_problem, paths, f"read {dataset} labels")
    for path, reason in zip(paths, found, strict=True):
        if reason is not None:
            raise OptionError(f"cannot read label file {path}: {reason} (replace it: ground truth is never "
                              "skipped)")


def unbuilt_copies(dataset: str, root: str | os.PathLike, cells: Sequence[Cell]) -> list[Unreadable]:
    """The images of ``dataset`` whose build under ``root`` skipped them (no corrupted copies), with the
    first missing copy among ``cells``, in dataset order."""
    manifest = read_manifest(root)
    skipped = manifest["skipped"]
    if not skipped:
        return []
    key_root, corrupted = dataset_root(dataset), [c for c in cells if not c.is_clean]
    found = []
    for record in DatasetCatalog.get(dataset):
        info = manifest["images"].get(str(image_key(record, key_root)))
        if info is None or info["source"] not in skipped:
            continue
        copies = [cell_file(c.corruption, c.severity, info["file"]) for c in corrupted]
        missing = [rel for rel in copies if rel not in manifest["files"]]
        if missing:
            found.append(Unreadable(record["file_name"], str(Path(root) / missing[0]),
                                    f"not built: its build skipped {info['source']} "
                                    f"({skipped[info['source']]})"))
    return found


def skip_or_refuse(found: Sequence[Unreadable], skip_bad: bool) -> tuple[Unreadable, ...]:
    """Without ``skip_bad``: ``OptionError`` naming the first file. With it: a warning per file, and the
    images to leave out."""
    if found and not skip_bad:
        raise OptionError(unreadable_message(found[0].path, found[0].reason))
    for image in found:
        warn_skipping(image.path, image.reason)
    return tuple(found)
