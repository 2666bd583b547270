"""Sort the flat ImageNet validation folder into the wnid folders ``eval_ood`` reads.

The ILSVRC2012 validation images come as one flat folder (``ILSVRC2012_val_00000001.JPEG`` ...); their
classes are in a separate ground-truth list. Two official forms are read:

- ``LOC_val_solution.csv`` (the Kaggle "ImageNet Object Localization Challenge" release): rows
  ``ImageId,PredictionString`` whose string starts with the image's wnid;
- the ILSVRC2012 development kit ``ILSVRC2012_devkit_t12.tar.gz``: its
  ``ILSVRC2012_validation_ground_truth.txt`` holds one ILSVRC2012_ID per image (file-number order), and
  those ids are *not* timm's class indices: they map to wnids through the kit's ``meta.mat``. torchvision
  parses the kit (``torchvision.datasets.imagenet.parse_devkit_archive``); we use it rather than a copy.

The result is written into a temporary folder beside ``--out`` and renamed when complete, so an
interrupted run leaves no half-sorted tree.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from fan_det.cli import HelpFormatter, UsageError, fail
from fan_det.ood.image_folders import IMAGE_EXTENSIONS
from fan_det.ood.synsets import wnid_to_index

VAL_NAME = re.compile(r"ILSVRC2012_val_(\d{8})")
VAL_IMAGES = 50_000


def read_solution_csv(path: str | Path) -> dict[str, str]:
    """``LOC_val_solution.csv``: image id (file stem) -> wnid."""
    labels: dict[str, str] = {}
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"ImageId", "PredictionString"} <= set(reader.fieldnames):
            raise UsageError(f"{path} is not LOC_val_solution.csv: expected the columns "
                             "ImageId,PredictionString")
        for row in reader:
            wnid = (row["PredictionString"] or "").split()[:1]
            if not wnid:
                raise UsageError(f"{path}: image {row['ImageId']} has no label")
            labels[row["ImageId"]] = wnid[0]
    return labels


def read_devkit(path: str | Path) -> dict[str, str]:
    """The ILSVRC2012 devkit archive: image id -> wnid, through torchvision's parser of ``meta.mat``."""
    import torch
    from torchvision.datasets.imagenet import META_FILE, parse_devkit_archive

    with tempfile.TemporaryDirectory() as tmp:
        shutil.copyfile(path, Path(tmp) / "ILSVRC2012_devkit_t12.tar.gz")
        try:
            parse_devkit_archive(tmp, "ILSVRC2012_devkit_t12.tar.gz")
        except Exception as e:  # a foreign archive fails in tarfile, scipy or indexing; one line either way
            raise UsageError(f"{path} is not the ILSVRC2012 devkit archive "
                             f"({type(e).__name__}: {e})") from None
        _, val_wnids = torch.load(Path(tmp) / META_FILE, weights_only=True)
    return {f"ILSVRC2012_val_{i:08d}": wnid for i, wnid in enumerate(val_wnids, 1)}


def read_ground_truth(path: str | Path) -> dict[str, str]:
    """Either official ground-truth form, told apart by the file name's ending."""
    name = Path(path).name
    if not Path(path).is_file():
        raise UsageError(f"--ground-truth {path} is not a file")
    if name.endswith(".csv"):
        labels = read_solution_csv(path)
    elif name.endswith((".tar.gz", ".tgz", ".tar")):
        labels = read_devkit(path)
    else:
        raise UsageError(f"--ground-truth {path}: expected LOC_val_solution.csv or "
                         "ILSVRC2012_devkit_t12.tar.gz")
    unknown = sorted({w for w in labels.values() if w not in wnid_to_index()})
    if unknown:
        raise UsageError(f"{path} names {len(unknown)} wnid(s) outside ImageNet-1k, e.g. {unknown[0]}")
    return labels


def plan(images: Path, labels: dict[str, str]) -> list[tuple[Path, str]]:
    """``(image, wnid)`` for every image of the flat folder; refuses unlabelled images."""
    if not images.is_dir():
        raise UsageError(f"--images {images} is not a folder")
    files = sorted(p for p in images.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise UsageError(f"--images {images} holds no image files (expected ILSVRC2012_val_*.JPEG)")
    unlabelled = [p.name for p in files if p.stem not in labels]
    if unlabelled:
        raise UsageError(f"{len(unlabelled)} image(s) have no ground-truth entry, e.g. {unlabelled[0]}: "
                         "is --ground-truth the validation list of this release?")
    return [(p, labels[p.stem]) for p in files]


def place(source: Path, target: Path, mode: str) -> None:
    if mode == "copy":
        shutil.copyfile(source, target)
    elif mode == "hardlink":
        os.link(source, target)
    else:
        target.symlink_to(source.resolve())


def sort_into_folders(moves: list[tuple[Path, str]], out: Path, mode: str = "copy") -> dict[str, int]:
    """Write ``out/<wnid>/<image>`` atomically (a temporary sibling renamed at the end); images per wnid."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    counts: dict[str, int] = {}
    try:
        for source, wnid in tqdm(moves, desc="sorting", unit="img", disable=None):
            (staging / wnid).mkdir(exist_ok=True)
            place(source, staging / wnid / source.name, mode)
            counts[wnid] = counts.get(wnid, 0) + 1
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return counts


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fan_det.prepare_imagenet_val", formatter_class=HelpFormatter,
        description="Sort the flat ImageNet validation folder into wnid folders from the official "
                    "ground-truth list (docs/data.md).",
        epilog="examples:\n"
               "  # Kaggle release: ILSVRC/Data/CLS-LOC/val + LOC_val_solution.csv\n"
               "  python -m fan_det.prepare_imagenet_val --images /data/ILSVRC/Data/CLS-LOC/val \\\n"
               "      --ground-truth /data/LOC_val_solution.csv --out /data/imagenet/val\n"
               "  # image-net.org release: ILSVRC2012_img_val.tar extracted + the devkit archive\n"
               "  python -m fan_det.prepare_imagenet_val --images /data/ILSVRC2012_img_val \\\n"
               "      --ground-truth /data/ILSVRC2012_devkit_t12.tar.gz --out /data/imagenet/val\n"
               "  python -m fan_det.check_data --imagenet /data/imagenet/val")
    parser.add_argument("--images", required=True, metavar="DIR",
                        help="the flat folder of ILSVRC2012_val_*.JPEG")
    parser.add_argument("--ground-truth", required=True, metavar="FILE",
                        help="LOC_val_solution.csv or ILSVRC2012_devkit_t12.tar.gz")
    parser.add_argument("--out", required=True, metavar="DIR", help="new folder for <wnid>/<image>")
    parser.add_argument("--mode", choices=("copy", "hardlink", "symlink"), default="copy",
                        help="how each image gets into --out (hardlink: same file system only)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = Path(args.out)
    if out.exists():
        fail(f"--out {out} exists: name a new folder (nothing is overwritten)")
    try:
        moves = plan(Path(args.images), read_ground_truth(args.ground_truth))
        counts = sort_into_folders(moves, out, args.mode)
    except UsageError as e:
        fail(str(e))
    except OSError as e:
        fail(f"could not write {out}: {e}")
    print(f"{len(moves):,} images into {len(counts)} wnid folders under {out}")
    if len(moves) != VAL_IMAGES:
        print(f"note: the ILSVRC2012 validation set has {VAL_IMAGES:,} images; "
              f"this folder had {len(moves):,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
