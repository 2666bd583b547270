"""Build the tiny datasets into the cache and print where they are (``python datasets/build_tiny.py``).

The builders live in ``fan_det.data``; ``make setup`` fetches their raw material and the tools build
them on first use, so running this by hand is only needed to inspect them.
"""

from __future__ import annotations

from fan_det.data.ood_sets import build_ood_sets
from fan_det.data.register import tiny_datasets


def main() -> None:
    for name, (json_path, image_dir) in tiny_datasets().items():
        print(f"{name:22s} {json_path}  images: {image_dir}")
    for name, root in build_ood_sets().items():
        print(f"{name:22s} {root}")


if __name__ == "__main__":
    main()
