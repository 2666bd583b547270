"""Check a materialised COCO-C: complete for the dataset it was built for, every file against its manifest
hash, and a random sample recomputed.

Hashing every file is cheap (disk speed) and catches any damaged byte; recomputing from the source is
what proves the files are the corruptions the manifest claims, so it runs on a sample whose seed comes
from the clock (printed, replayable) unless one is given, or on all files.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from fan_det.corruptions.builder import Settings
from fan_det.corruptions.core import corrupt
from fan_det.corruptions.imageio import ImageReadError, decode_image, read_rgb
from fan_det.corruptions.manifest import BuildError, missing_files, read_manifest
from fan_det.runtime.hashing import sha256_file


@dataclass
class VerifyReport:
    hashed: int  # files whose sha256 was checked against the manifest (all that exist)
    checked: int  # files recomputed from their source
    sample_seed: int
    sampled: list[str] = field(default_factory=list)  # the files recomputed, sorted
    missing: list[str] = field(default_factory=list)  # planned (image x cell) files not built, sorted
    mismatched: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.mismatched


def clock_seed() -> int:
    return time.time_ns() % (2**31)


def verify_coco_c(out: str | Path, samples: int | None = 16, *, sample_seed: int | None = None,
                  progress: bool = False) -> VerifyReport:
    """List every image x planned cell not built (nor skipped); hash every manifest file; recompute
    ``samples`` of them (None: all) chosen with ``sample_seed`` (None: from the clock; the report carries
    it so the same sample can be drawn again).

    PNG files are compared pixel for pixel (zlib builds may differ in bytes), JPEG files byte for byte.
    A source that is gone or changed since the build raises ``BuildError`` naming it and the fix.
    """
    out = Path(out)
    manifest = read_manifest(out)
    settings = Settings(**manifest["settings"])
    seed = clock_seed() if sample_seed is None else sample_seed
    report = VerifyReport(hashed=0, checked=0, sample_seed=seed)
    report.missing = sorted(set(missing_files(out, manifest)) |
                            {rel for rel in manifest["files"] if not (out / rel).is_file()})
    intact = []
    for rel in tqdm(sorted(manifest["files"]), desc="hash", unit="file", disable=not progress):
        path = out / rel
        if not path.is_file():
            continue
        report.hashed += 1
        if sha256_file(path) != manifest["files"][rel]:
            report.mismatched.append(f"{rel}: sha256 differs from the manifest")
        else:
            intact.append(rel)
    count = len(intact) if samples is None else min(samples, len(intact))
    report.sampled = sorted(random.Random(seed).sample(intact, count))
    by_file = {info["file"]: (image_id, info) for image_id, info in manifest["images"].items()}
    sources_checked: set[str] = set()
    for rel in tqdm(report.sampled, desc="recompute", unit="file", disable=not progress):
        corruption, severity, file = rel.split("/", 2)
        image_id, info = by_file[file]  # the key is hashed as text, so the id's JSON string form is exact
        source = _checked_source(info, sources_checked)
        data = (out / rel).read_bytes()
        expected = corrupt(source, corruption, int(severity), seed=settings.seed, key=image_id)
        if settings.format == "png" and not np.array_equal(decode_image(data), expected):
            report.mismatched.append(f"{rel}: pixels differ from a fresh corruption of {info['source']}")
        elif settings.format == "jpg" and settings.encode(expected) != data:
            report.mismatched.append(f"{rel}: bytes differ from a fresh corruption and encoding of "
                                     f"{info['source']}")
        report.checked += 1
    return report


def _checked_source(info: dict, checked: set[str]) -> np.ndarray:
    path = info["source"]
    fix = "move the sources back, or check hashes only with --verify-samples 0"
    try:
        data_hash = sha256_file(path) if path not in checked else info.get("sha256")
    except OSError:
        raise BuildError(f"source {path} is gone since the build: {fix}") from None
    if info.get("sha256") is not None and data_hash != info["sha256"]:
        raise BuildError(f"source {path} changed since the build (sha256 differs): {fix}")
    checked.add(path)
    try:
        return read_rgb(path)
    except ImageReadError as err:
        raise BuildError(f"source {err.path} cannot be read ({err.reason}): {fix}") from None
