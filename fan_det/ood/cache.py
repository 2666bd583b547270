"""Finished datasets (and ImageNet-C cells) saved as they complete, so a rerun skips them.

One ``runtime.grid.CellCache`` per evaluation setting (model spec, hash of the weights actually
evaluated, checkpoint hash, preprocessing, AMP, device type); inside it one cell per dataset folder,
named by the dataset and a hash of its file list (relative paths, targets, sizes, modification times)
and of the class subsets scored, whose payload is the per-image outcomes (``OUTCOMES``, an ``.npz``).
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
from fan_det.runtime.grid import CellCache, Codec
from fan_det.runtime.hashing import sha256_json


def files_fingerprint(samples: Iterable[tuple[str, int]], root: str | Path) -> str:
    """Hash of the relative paths, targets, sizes and modification times of a dataset's images."""
    rows = []
    for path, target in samples:
        st = os.stat(path)
        rows.append((os.path.relpath(path, root), target, st.st_size, st.st_mtime_ns))
    return sha256_json(rows)


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
