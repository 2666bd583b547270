"""Where the corrupted images come from: made on the fly, or files of a materialised COCO-C.

A materialised COCO-C was made with its own seed, format and library versions, which its
``manifest.json`` records; those (not the evaluation's options) decide its pixels, so they are what the
results and the cache key record, and a ``--seed`` that disagrees is refused.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fan_det.corruptions import BuildError, read_manifest
from fan_det.corruptions.builder import MANIFEST, cell_file
from fan_det.protocol import Cell
from fan_det.robustness.options import OptionError
from fan_det.runtime.hashing import sha256_json
from fan_det.runtime.provenance import corruption_library_version

DEFAULT_SEED = 0


@dataclass(frozen=True)
class ImageSource:
    """The images of the corrupted cells and everything that decided their pixels."""

    seed: int
    imagecorruptions_version: str
    root: str | None = None  # a materialised COCO-C; None: corrupted on the fly
    settings: dict = field(default_factory=dict)  # the build's format, quality, ... (materialised only)
    versions: dict = field(default_factory=dict)  # every library version of the build (materialised only)
    files_sha256: str | None = None  # hash of the planned cells' file hashes (materialised only)

    @property
    def materialised(self) -> bool:
        return self.root is not None

    @property
    def mode(self) -> str:
        return "materialised" if self.materialised else "on-the-fly"

    def protocol(self) -> dict:
        """The ``protocol`` fields of robustness.json that say how the images were made."""
        built = {"coco_c": {"settings": self.settings, "versions": self.versions}}
        return {"seed": self.seed, "mode": self.mode, "coco_c_root": self.root,
                "imagecorruptions_version": self.imagecorruptions_version,
                **(built if self.materialised else {})}

    def key(self) -> dict:
        """The cache-key fields: what decides the pixels (not where the folder happens to be)."""
        return {"seed": self.seed, "mode": self.mode,
                "imagecorruptions_version": self.imagecorruptions_version,
                "coco_c_settings": self.settings, "coco_c_versions": self.versions,
                "coco_c_files_sha256": self.files_sha256}


def on_the_fly(seed: int | None) -> ImageSource:
    """Images corrupted as they are read, by the installed corruption library, from ``seed`` (default 0)."""
    return ImageSource(seed=DEFAULT_SEED if seed is None else seed,
                       imagecorruptions_version=corruption_library_version())


def materialised(root: str | os.PathLike, cells: Sequence[Cell], seed: int | None) -> ImageSource:
    """The COCO-C under ``root`` as its manifest describes it; refuses a ``seed`` other than its own and
    cells it does not hold."""
    try:
        manifest = read_manifest(root)
    except BuildError as error:
        raise OptionError(f"{{coco_c_root}}: {error}", "coco_c_root") from None
    settings, versions = manifest["settings"], manifest["versions"]
    built_seed = settings.get("seed")
    if not isinstance(built_seed, int):
        raise OptionError(f"{Path(root) / MANIFEST} records no seed; rebuild it with "
                          "python -m fan_det.build_coco_c")
    if seed is not None and seed != built_seed:
        raise OptionError(f"{{seed}} {seed} disagrees with seed {built_seed} that built {{coco_c_root}} "
                          f"{root}; drop {{seed}}, pass {{seed}} {built_seed}, or rebuild the COCO-C with "
                          f"--seed {seed}", "seed", "coco_c_root")
    files = manifest["files"]
    planned = {}
    for cell in cells:
        if cell.is_clean:
            continue
        prefix = cell_file(cell.corruption, cell.severity, "")
        chosen = {rel: digest for rel, digest in files.items() if rel.startswith(prefix)}
        if not chosen:
            raise OptionError(f"cell {cell.corruption}/{cell.severity} is not built in {{coco_c_root}} "
                              f"{root}: build it with python -m fan_det.build_coco_c, or leave it out",
                              "coco_c_root")
        planned.update(chosen)
    library = str(versions.get("imagecorruptions", "unknown"))
    return ImageSource(seed=built_seed, imagecorruptions_version=library, root=str(root),
                       settings=dict(settings), versions=dict(versions), files_sha256=sha256_json(planned))
