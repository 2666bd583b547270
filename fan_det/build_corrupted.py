"""Materialise a corrupted copy of any detectron2 dataset (Cityscapes-C, a semantic-segmentation set,
COCO-C): ``python -m fan_det.build_corrupted --help``.

The same builder as ``build_coco_c`` (reproducible per-image seeds, manifest, resume, shards, ``--verify``,
content-keyed sources), with Cityscapes' validation set and the FAN authors' Cityscapes-C protocol as
defaults. Only images are written: label files are never corrupted nor copied, and the materialised
cells registered for evaluation point at the dataset's own label files.
"""

from __future__ import annotations

import argparse
import sys

from fan_det import build_coco_c

PROG = "python -m fan_det.build_corrupted"
EXAMPLE = f"""examples:
  # the tiny segmentation set, two corruptions at the authors' severities 1-3
  {PROG} --dataset fan_synth_seg_val --corruptions fog,gaussian_noise \\
      --out runs/city_c/synth_seg --workers 2
  {PROG} --out runs/city_c/synth_seg --verify
  # Cityscapes-C as the FAN authors evaluate it (19 corruptions x severities 1-3; docs/data.md)
  {PROG} --dataset cityscapes_fine_sem_seg_val --protocol fan-city-c \\
      --out /data/cityscapes_c --workers 16
Interrupt it at any time and rerun the same command to finish; see docs/coco_c.md."""
DESCRIPTION = ("Write <out>/<corruption>/<severity>/<file> for every image of a detectron2 dataset "
               "(Cityscapes-C by default; semantic segmentation, detection or a COCO json): reproducible, "
               "parallel, resumable, shardable, with a manifest of hashes. Labels are never corrupted nor "
               "copied.")


def make_parser() -> argparse.ArgumentParser:
    """``build_coco_c``'s options under this tool's name, with Cityscapes-C's defaults."""
    return build_coco_c.make_parser(prog=PROG, epilog=EXAMPLE, description=DESCRIPTION,
                                    dataset="cityscapes_fine_sem_seg_val", protocol="fan-city-c")


def main(argv: list[str] | None = None) -> int:
    return build_coco_c.main(argv, make_parser())


if __name__ == "__main__":
    sys.exit(main())
