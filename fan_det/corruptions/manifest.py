"""The record of a materialised COCO-C: ``<root>/manifest.json`` and the journals a build keeps on the way.

``manifest.json`` (schema ``fan_det.coco_c_manifest/2``) holds ``settings`` (seed, format, quality, PNG
level, seeding recipe), ``versions`` (every library that can change a pixel or a byte), ``images``
(``{image_id: {source, file, sha256}}``, the source's content hash), ``files``
(``{"<corruption>/<severity>/<file>": sha256}``), ``skipped`` (``{source: reason}``), ``cells``
(``[[corruption, severity], ...]``: every cell a build of the folder was asked for, so that a folder left
incomplete says so) and ``built`` (date, workers, threads, shards: how it was made, not what). A shard
of a build (``--shard K/N`` or a torchrun rank) writes ``manifest.shard-K-of-N.json`` instead, merged
into ``manifest.json`` afterwards.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from fan_det.runtime.atomic import atomic_write_text

SCHEMA = "fan_det.coco_c_manifest/2"
MANIFEST = "manifest.json"
JOURNAL = ".journal.jsonl"
SHARD_GLOB = "manifest.shard-*-of-*.json"
REQUIRED = ("settings", "versions", "images", "files", "skipped")


class BuildError(RuntimeError):
    """A build, merge or verification that cannot go on; the message names the file and the fix."""


def cell_file(corruption: str, severity: int, file: str) -> str:
    return f"{corruption}/{severity}/{file}"


def planned_cells(manifest: dict) -> list[tuple[str, int]]:
    """The cells the folder's builds were asked for (a manifest without ``cells``: those with a file)."""
    cells = manifest.get("cells")
    if cells is None:
        cells = [rel.split("/", 2)[:2] for rel in manifest["files"]]
    return sorted({(str(c), int(s)) for c, s in cells})


def missing_files(root: str | os.PathLike, manifest: dict,
                  cells: Iterable[tuple[str, int]] | None = None) -> list[str]:
    """Files of ``cells`` (default: every planned cell) that every image of the manifest should have but
    that are not recorded or not on disk; images recorded as skipped have none."""
    root, skipped = Path(root), set(manifest["skipped"])
    cells = planned_cells(manifest) if cells is None else cells
    wanted = [cell_file(c, s, info["file"]) for c, s in cells for info in manifest["images"].values()
              if info["source"] not in skipped]
    return sorted(rel for rel in wanted if rel not in manifest["files"] or not (root / rel).is_file())


def shard_tag(shard: tuple[int, int] | None) -> str:
    """``""`` for a whole build, ``".shard-0-of-2"`` for shard 0 of 2 (shards count from 0)."""
    return "" if shard is None else f".shard-{shard[0]}-of-{shard[1]}"


def manifest_name(shard: tuple[int, int] | None = None) -> str:
    return f"manifest{shard_tag(shard)}.json"


def journal_name(shard: tuple[int, int] | None = None) -> str:
    return f".journal{shard_tag(shard)}.jsonl"


def load_manifest_file(path: Path) -> dict | None:
    """A manifest file checked for its schema and keys; None when there is none."""
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise BuildError(f"{path} is unreadable ({err}): delete the folder and rebuild it") from None
    if not isinstance(manifest, dict) or manifest.get("schema") != SCHEMA:
        found = manifest.get("schema") if isinstance(manifest, dict) else type(manifest).__name__
        raise BuildError(f"{path} is not a {SCHEMA} manifest (found {found!r}): rebuild it in another folder")
    missing = [k for k in REQUIRED if not isinstance(manifest.get(k), dict)]
    if missing:
        raise BuildError(f"{path} lacks {', '.join(missing)}: rebuild it in another folder")
    return manifest


def read_manifest(root: str | os.PathLike) -> dict:
    """The manifest of the finished COCO-C under ``root``: ``settings`` (seed, format, quality, ...),
    ``versions`` (``imagecorruptions``, numpy, ...), ``images``, ``files``, ``skipped``, ``built``.

    Raises ``BuildError`` (one line naming the fix) for a folder with no manifest, one holding only
    unmerged shards, or a manifest of another schema.
    """
    root = Path(root)
    if not root.is_dir():
        raise BuildError(f"{root} is not a folder: build it with python -m fan_det.build_coco_c --out {root}")
    manifest = load_manifest_file(root / MANIFEST)
    if manifest is not None:
        return manifest
    if any(root.glob(SHARD_GLOB)):
        raise BuildError(f"{root} holds shards of an unmerged build: merge them with "
                         f"python -m fan_det.build_coco_c --out {root} --merge {root}")
    raise BuildError(f"{root} has no {MANIFEST}: build it with python -m fan_det.build_coco_c --out {root}")


def write_manifest(path: Path, manifest: dict) -> None:
    atomic_write_text(path, json.dumps(manifest, sort_keys=True, indent=1) + "\n")


def replay_journal(path: Path) -> Iterator[dict]:
    """Journal lines; a last line cut short by a kill is ignored."""
    if not path.exists():
        return
    for line in path.read_text().splitlines():
        try:
            yield json.loads(line)
        except ValueError:
            continue


def content(manifest: dict) -> dict:
    """What the manifest says about the files (everything but ``built``, which says how they were made)."""
    return {k: v for k, v in manifest.items() if k != "built"}
