"""Finished datasets saved as they complete, so a rerun skips them.

An entry is keyed by everything that changes the outcomes: model name, a hash of the weights actually
evaluated (which covers the checkpoint and a seeded random init), the checkpoint file hash, the
preprocessing, AMP, and the dataset's file list.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

import numpy as np

from fan_det.ood.evaluate import Outcomes


def cache_key(**parts) -> str:
    """A short stable hash of JSON-able ``parts``."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:20]


def files_fingerprint(samples: list[tuple[str, int]], root: str | Path) -> str:
    """Hash of the relative paths, targets and sizes of a dataset's images."""
    h = hashlib.sha256()
    for path, target in samples:
        h.update(f"{os.path.relpath(path, root)}\t{target}\t{os.path.getsize(path)}\n".encode())
    return h.hexdigest()


def save_outcomes(path: Path, outcomes: Outcomes) -> None:
    """Write atomically (a killed run leaves no half entry)."""
    buf = io.BytesIO()
    arrays = {f"a:{k.replace('/', '|')}": v for k, v in outcomes.arrays.items()}
    np.savez(buf, **arrays, skipped=np.frombuffer(json.dumps(outcomes.skipped).encode(), dtype=np.uint8))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(buf.getvalue())
    os.replace(tmp, path)


def load_outcomes(path: Path) -> Outcomes | None:
    """The cached outcomes, or None when there is no entry."""
    if not path.is_file():
        return None
    with np.load(path) as z:
        arrays = {k[2:].replace("|", "/"): z[k] for k in z.files if k.startswith("a:")}
        skipped = [tuple(s) for s in json.loads(z["skipped"].tobytes().decode())]
    return Outcomes(arrays, skipped)
