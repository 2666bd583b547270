"""Split a COCO-C build over machines (``--shard K/N``, torchrun ranks) and merge the shards' records.

Every file's bytes depend only on (seed, image, corruption, severity), so any split gives the same files;
the split only has to be the same in every shard (a pure function of the plan) and balanced by cost.
"""

from __future__ import annotations

import heapq
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from fan_det.corruptions.manifest import (
    MANIFEST,
    SHARD_GLOB,
    BuildError,
    content,
    load_manifest_file,
    planned_cells,
    write_manifest,
)
from fan_det.runtime.hashing import sha256_file

# relative cost of one image of a corruption (measured: glass_blur and zoom_blur take ~10x the others)
COST = {"glass_blur": 10.0, "zoom_blur": 10.0}


def parse_shard(spec: str) -> tuple[int, int]:
    """``"K/N"`` (K counts from 0) to ``(K, N)``."""
    try:
        index, count = (int(v) for v in spec.split("/"))
    except ValueError:
        raise ValueError(f"bad --shard {spec!r}: expected K/N, e.g. 0/4 (K counts from 0)") from None
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"bad --shard {spec!r}: need 0 <= K < N")
    return index, count


def shard_from_env(environ: dict | None = None) -> tuple[int, int] | None:
    """``(RANK, WORLD_SIZE)`` under torchrun with more than one process, else None."""
    env = os.environ if environ is None else environ
    if "RANK" not in env or int(env.get("WORLD_SIZE", "1")) <= 1:
        return None
    return int(env["RANK"]), int(env["WORLD_SIZE"])


def assign(units: Sequence[tuple[str, str, int]], count: int) -> list[int]:
    """Shard of each ``(file, corruption, n_severities)`` unit: longest first onto the least-loaded shard.

    The order is fixed by (cost, file, corruption), so every shard computes the same split.
    """
    order = sorted(range(len(units)), key=lambda i: (-unit_cost(units[i]), units[i][0], units[i][1]))
    loads = [(0.0, shard) for shard in range(count)]
    owner = [0] * len(units)
    for i in order:
        load, shard = heapq.heappop(loads)
        owner[i] = shard
        heapq.heappush(loads, (load + unit_cost(units[i]), shard))
    return owner


def unit_cost(unit: tuple[str, str, int]) -> float:
    return COST.get(unit[1], 1.0) * unit[2]


def merge_shards(out: str | Path, folders: Sequence[str | Path], *, link: bool = True) -> dict:
    """Fold every shard manifest (and ``manifest.json``) found in ``folders`` and ``out`` into
    ``out/manifest.json``, copying files that live elsewhere (hash-checked); returns the manifest.

    Refuses shards built with other settings, libraries or sources, and an incomplete set of shards.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise BuildError(f"--out {out} is a file: pass a folder")
    found = []
    for folder in dict.fromkeys(Path(f) for f in [*folders, out]):
        if folder != out and not folder.is_dir():
            raise BuildError(f"--merge {folder} is not a folder")
        for path in sorted([folder / MANIFEST, *sorted(folder.glob(SHARD_GLOB))]):
            manifest = load_manifest_file(path)
            if manifest is not None:
                found.append((folder, path, manifest))
    if not found:
        raise BuildError(f"no manifest or shard manifest in {', '.join(map(str, folders))}: nothing to merge")
    merged = _union(found)
    _check_complete(found)
    for folder, _, manifest in found:
        if folder == out:
            continue
        for rel, digest in manifest["files"].items():
            _bring(folder / rel, out / rel, digest, link)
    built = {"merged_from": sorted({str(m.get("built", {}).get("shard", "whole")) for _, _, m in found})}
    merged["built"] = built
    out.mkdir(parents=True, exist_ok=True)
    write_manifest(out / MANIFEST, merged)
    for folder, path, _ in found:
        if folder == out and path.name != MANIFEST:
            path.unlink()
    return merged


def _union(found: list[tuple[Path, Path, dict]]) -> dict:
    first_path, first = found[0][1], content(found[0][2])
    merged = {**first, "images": {}, "files": {}, "skipped": {}}
    merged.pop("shard", None)
    for _, path, manifest in found:
        for key in ("schema", "dataset", "settings", "versions"):
            if manifest.get(key) != first.get(key):
                raise BuildError(f"{path} has other {key} than {first_path}: these are not shards of one "
                                 "build")
        for image_id, info in manifest["images"].items():
            known = merged["images"].setdefault(image_id, info)
            if known.get("sha256") != info.get("sha256") or known["file"] != info["file"]:
                raise BuildError(f"image {image_id} differs between {first_path} and {path} (other sources): "
                                 "rebuild one of them from the same sources")
        merged["files"].update(manifest["files"])
        merged["skipped"].update(manifest["skipped"])
    merged["cells"] = sorted({cell for _, _, manifest in found for cell in planned_cells(manifest)})
    return merged


def _check_complete(found: list[tuple[Path, Path, dict]]) -> None:
    plans: dict[int, set[int]] = {}
    for _, _, manifest in found:
        shard = manifest.get("shard")
        if shard is not None:
            plans.setdefault(shard["count"], set()).add(shard["index"])
    for count, indices in plans.items():
        missing = sorted(set(range(count)) - indices)
        if missing:
            raise BuildError(f"shard(s) {', '.join(f'{k}/{count}' for k in missing)} missing: build them "
                             f"(--shard K/{count}) or pass the folders that hold them to --merge")


def _bring(source: Path, target: Path, digest: str, link: bool) -> None:
    if target.is_file() and sha256_file(target) == digest:
        return
    if not source.is_file() or sha256_file(source) != digest:
        raise BuildError(f"{source} is missing or differs from its shard manifest: rebuild that shard")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        if not link:
            raise OSError
        os.link(source, tmp)
    except OSError:  # another file system (or asked for copies)
        shutil.copyfile(source, tmp)
    os.replace(tmp, target)
