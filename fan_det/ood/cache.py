"""Finished datasets (and ImageNet-C cells) saved as they complete, so a rerun skips them.

One ``runtime.grid.CellCache`` per evaluation setting (model spec, hash of the weights actually
evaluated, checkpoint hash, preprocessing, AMP, device type); inside it one cell per dataset folder,
named by the dataset and a hash of its file list (relative paths, targets and the files' bytes) and
of the class subsets scored, whose payload is the per-image outcomes (``OUTCOMES``, an ``.npz``).
``--strict`` is not in the key: a cached entry records the images it skipped, and the caller refuses it
under ``--strict`` exactly as a fresh run would.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from fan_det.ood.evaluate import Outcomes
from fan_det.runtime.file_hashes import content_sha256
from fan_det.runtime.grid import CellCache, Codec
from fan_det.runtime.hashing import sha256_json


def files_fingerprint(samples: Iterable[tuple[str, int]], root: str | Path, memo_dir: str | Path) -> str:
    """Hash of the relative paths, targets and bytes of a dataset's images (``runtime.file_hashes``:
    files unchanged since ``memo_dir``'s memo recorded them are not read again)."""
    samples = list(samples)
    rows = [(os.path.relpath(path, root), target) for path, target in samples]
    return sha256_json([rows, content_sha256([path for path, _ in samples], memo_dir)])


def entry_name(desc: str, files: str, subsets: Iterable[str]) -> str:
    """``<dataset>-<hash of its file list and scored subsets>``."""
    return f"{desc.replace('/', '_')}-{sha256_json([files, sorted(subsets)])[:16]}"


def encode_outcomes(outcomes: Outcomes) -> bytes:
    buf = io.BytesIO()
    arrays = {f"a:{k.replace('/', '|')}": v for k, v in outcomes.arrays.items()}
    np.savez(buf, **arrays, skipped=np.frombuffer(json.dumps(outcomes.skipped).encode(), dtype=np.uint8))
    return buf.getvalue()


def decode_outcomes(data: bytes) -> Outcomes:
    with np.load(io.BytesIO(data)) as z:
        arrays = {k[2:].replace("|", "/"): z[k] for k in z.files if k.startswith("a:")}
        skipped = [tuple(s) for s in json.loads(z["skipped"].tobytes().decode())]
    if "index" not in arrays:
        raise ValueError("no per-image outcomes in the entry")
    return Outcomes(arrays, skipped)


OUTCOMES = Codec("outcomes", ".npz", encode_outcomes, decode_outcomes)


def open_cache(out_dir: str | Path, components: Mapping[str, object]) -> CellCache:
    return CellCache(Path(out_dir) / "cache", components, OUTCOMES)
