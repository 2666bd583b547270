"""Materialise COCO-C: ``<out>/<corruption>/<severity>/<file>`` for every image of a COCO-format dataset.

Safe to interrupt at any point, even with SIGKILL: each file is written to a hidden temporary name and
renamed into place, so a file that exists is complete, and worker processes die with the main process.
Progress is journalled (one line per finished file); a rerun replays the journal, hashes and adopts
finished files the journal missed, deletes stray temporary files, retries images skipped before and does
only what is left. The manifest (see ``fan_det.corruptions.manifest``) records the seed, format, library
versions, each source's content hash and each file's sha256; a rerun with other settings, libraries or
source pixels is refused, and so is a writer whose settings differ from any manifest in the folder,
before, during or after another: each build checks the folder and writes its manifest under the folder's
lock. A full disk or a file-size limit stops the build with one error, its temporary files removed.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
from tqdm import tqdm

from fan_det.corruptions.core import corrupt
from fan_det.corruptions.imageio import ImageReadError, encode_image, read_rgb
from fan_det.corruptions.manifest import (
    MANIFEST,
    SCHEMA,
    SHARD_GLOB,
    BuildError,
    cell_file,
    journal_name,
    load_manifest_file,
    manifest_name,
    planned_cells,
    replay_journal,
    write_manifest,
)
from fan_det.corruptions.shards import assign
from fan_det.data.identity import ImageKeyError, dataset_root, image_key
from fan_det.runtime.atomic import TMP_SUFFIX, atomic_write_bytes
from fan_det.runtime.hashing import sha256_bytes, sha256_file
from fan_det.runtime.locks import folder_lock
from fan_det.runtime.provenance import corruption_library_version, now_iso, package_version
from fan_det.runtime.threads import ThreadBudget, budgeted_worker_init, plan_threads, thread_env
from fan_det.runtime.unreadable import unreadable_message

STAGES = ("read", "corrupt", "encode", "write")


@dataclass(frozen=True)
class Settings:
    """Everything besides the libraries that decides the bytes of every file."""

    seed: int = 0
    format: str = "png"
    quality: int | None = None  # JPEG quality; None for PNG
    png_compress_level: int | None = 1  # zlib level for PNG (OpenCV encoder, RLE strategy); None for JPEG
    seeding: str = "fan_det.coco_c/v1: sha256(seed|image_id|corruption|severity) -> numpy, numba, seed="

    @classmethod
    def make(cls, seed: int = 0, fmt: str = "png", quality: int = 95,
             png_compress_level: int = 1) -> Settings:
        if fmt not in ("png", "jpg"):
            raise ValueError(f"format must be png or jpg, got {fmt!r}")
        if fmt == "jpg" and not 1 <= quality <= 100:
            raise ValueError(f"JPEG quality must be in 1..100, got {quality}")
        if fmt == "png":
            return cls(seed=seed, format="png", quality=None, png_compress_level=png_compress_level)
        return cls(seed=seed, format="jpg", quality=quality, png_compress_level=None)

    def encode(self, image: np.ndarray) -> bytes:
        if self.format == "png":
            return encode_image(image, "png", png_compress_level=self.png_compress_level)
        return encode_image(image, "jpg", quality=self.quality)


@dataclass(frozen=True)
class ImageEntry:
    """One source image: its key (``image_key``: the COCO id, else its path in the dataset), where to read
    it, its relative output file."""

    image_id: int | str
    source: str
    file: str


@dataclass
class BuildReport:
    written: int = 0
    reused: int = 0
    skipped: dict[str, str] = field(default_factory=dict)  # source path -> reason
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))


def library_versions() -> dict[str, str | None]:
    """Versions of every library that can change a corrupted pixel or an encoded byte."""
    opencv = next(filter(None, map(package_version, ("opencv-python", "opencv-python-headless",
                                                     "opencv-contrib-python"))), None)
    return {"imagecorruptions": corruption_library_version(), "numpy": package_version("numpy"),
            "scipy": package_version("scipy"), "scikit-image": package_version("scikit-image"),
            "opencv": opencv, "numba": package_version("numba"), "Pillow": package_version("Pillow")}


def output_file(file_name: str, fmt: str) -> str:
    """The relative output path: the COCO ``file_name`` with the format's extension; never escapes ``out``."""
    path = PurePosixPath(str(file_name).replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or not path.name:
        raise BuildError(f"file_name {file_name!r} must be a relative path inside the image root")
    return str(path.with_suffix("." + fmt))


def load_images(dataset: str, image_root: str | Path | None, fmt: str) -> list[ImageEntry]:
    """Images of a COCO json (``image_root`` required) or of a dataset registered with detectron2."""
    if dataset.endswith(".json") or Path(dataset).is_file():
        if image_root is None:
            raise BuildError("--image-root is required when --dataset is a COCO json file")
        pairs = [(image_id, Path(image_root) / name, name) for image_id, name in _coco_json_images(dataset)]
    else:
        pairs = _registered_images(dataset, image_root)
    entries = [ImageEntry(image_id, str(source), output_file(name, fmt)) for image_id, source, name in pairs]
    _check_unique(entries)
    return entries


def _coco_json_images(path: str) -> list[tuple[int | str, str]]:
    try:
        coco = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise BuildError(f"cannot read COCO json {path}: {err}") from None
    images = coco.get("images") if isinstance(coco, dict) else None
    if not isinstance(images, list):
        raise BuildError(f"{path} is not a COCO json (an object with an \"images\" list): pass a COCO "
                         "instances file")
    for i, im in enumerate(images):
        if not isinstance(im, dict) or "id" not in im or not isinstance(im.get("file_name"), str):
            raise BuildError(f"{path}: images[{i}] lacks \"id\" or \"file_name\": fix the json or pass the "
                             "COCO instances file")
    return [(im["id"], im["file_name"]) for im in images]


def _registered_images(name: str, image_root: str | Path | None) -> list[tuple[int | str, Path, str]]:
    import detectron2.data  # noqa: F401  (registers detectron2's builtin datasets, e.g. coco_2017_val)
    from detectron2.data import DatasetCatalog

    from fan_det.data.register import register_tiny_datasets

    register_tiny_datasets()
    if name not in DatasetCatalog.list():
        raise BuildError(f"dataset {name!r} is neither a COCO json file nor a registered detectron2 dataset")
    try:
        dicts = DatasetCatalog.get(name)
    except (OSError, AssertionError) as err:
        raise BuildError(f"cannot load dataset {name!r}: {err}") from None
    key_root = dataset_root(name)
    root = Path(image_root or key_root or "/")
    pairs = []
    for d in dicts:
        source = Path(d["file_name"])
        try:
            rel = source.relative_to(root).as_posix()
        except ValueError:
            rel = source.name
        try:
            key = image_key(d, key_root)
        except ImageKeyError as err:
            raise BuildError(str(err)) from None
        pairs.append((key, source, rel))
    return pairs


def _check_unique(entries: Sequence[ImageEntry]) -> None:
    for attr in ("image_id", "file"):
        seen: dict[str, ImageEntry] = {}
        for e in entries:
            value = str(getattr(e, attr))
            if value in seen:
                raise BuildError(f"two images share the {attr} {value!r}: {seen[value].source}, {e.source}")
            seen[value] = e


def source_sha256(path: str) -> str | None:
    """Content hash of a source image; None when it cannot be read (the worker reports why)."""
    try:
        return sha256_file(path)
    except OSError:
        return None


# ---------------------------------------------------------------- worker side (runs in pool processes)

class _WorkerInit:
    """Pool initializer: die with the main process (Linux), then cap this worker's threads."""

    def __init__(self, parent: int, threads: int):
        self.parent, self.threads = parent, threads

    def __call__(self) -> None:
        _die_with_parent(self.parent)
        budgeted_worker_init(self.threads)()


def _die_with_parent(parent: int) -> None:
    """SIGKILL this process when its parent dies (``prctl(PR_SET_PDEATHSIG)``; no-op off Linux)."""
    import ctypes
    import signal
    import sys

    if not sys.platform.startswith("linux"):
        return
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the call above
        os._exit(1)


def _process_image(task: tuple[ImageEntry, list[tuple[str, int]], str, Settings]) -> dict:
    """Read one image once and write all its pending cells; report hashes, timings or why it was skipped.

    A writer thread encodes and writes each result while the next corruption is computed (OpenCV's
    encoder and file writes release the GIL).
    """
    entry, cells, out, settings = task
    seconds = dict.fromkeys(STAGES, 0.0)
    t0 = time.perf_counter()
    try:
        image = read_rgb(entry.source)
    except ImageReadError as err:
        return {"image_id": entry.image_id, "skipped": (err.path, err.reason), "files": [],
                "seconds": seconds}
    seconds["read"] = time.perf_counter() - t0

    def write(rel: str, result: np.ndarray) -> tuple[str, str]:
        t1 = time.perf_counter()
        data = settings.encode(result)
        t2 = time.perf_counter()
        atomic_write_bytes(Path(out) / rel, data)
        seconds["encode"] += t2 - t1
        seconds["write"] += time.perf_counter() - t2
        return rel, sha256_bytes(data)

    with ThreadPoolExecutor(1) as writer:
        pending = []
        for corruption, severity in cells:
            t0 = time.perf_counter()
            result = corrupt(image, corruption, severity, seed=settings.seed, key=entry.image_id)
            seconds["corrupt"] += time.perf_counter() - t0
            pending.append(writer.submit(write, cell_file(corruption, severity, entry.file), result))
        files = [f.result() for f in pending]
    return {"image_id": entry.image_id, "skipped": None, "files": files, "seconds": seconds}


# ---------------------------------------------------------------- state on disk

def _open_state(out: Path, dataset: str, entries: Sequence[ImageEntry], hashes: dict[str, str | None],
                settings: Settings, shard: tuple[int, int] | None) -> dict:
    """Load (or start) this build's manifest, refusing a folder any of whose manifests (whole or shard)
    has other settings, libraries or sources (by content hash, so another --image-root with the same
    names is caught). Called under the folder's lock, before this build writes its own manifest."""
    versions = library_versions()
    images = {str(e.image_id): {"source": e.source, "file": e.file, "sha256": hashes[e.source]}
              for e in entries}
    own_path = out / manifest_name(shard)
    own = load_manifest_file(own_path)
    for path in [out / MANIFEST, *sorted(out.glob(SHARD_GLOB))]:  # the whole folder's, shards included
        manifest = own if path == own_path else load_manifest_file(path)
        if manifest is not None:
            _check_compatible(path, manifest, asdict(settings), versions, images)
    manifest = own or {"schema": SCHEMA, "dataset": dataset, "settings": asdict(settings),
                       "versions": versions, "images": {}, "files": {}, "skipped": {}}
    for image_id, info in images.items():
        old = manifest["images"].get(image_id)
        if info["sha256"] is not None or old is None:
            manifest["images"][image_id] = info
    for record in replay_journal(out / journal_name(shard)):
        if "file" in record:
            manifest["files"][record["file"]] = record["sha256"]
        elif "skipped" in record:
            manifest["skipped"][record["skipped"]] = record["reason"]
    return manifest


def _check_compatible(path: Path, manifest: dict, settings: dict, versions: dict, images: dict) -> None:
    out = path.parent
    for what, mine in (("settings", settings), ("versions", versions)):
        differ = {k: (manifest[what].get(k), v) for k, v in mine.items() if manifest[what].get(k) != v}
        if differ:
            shown = ", ".join(f"{k} {old!r} there, {new!r} now" for k, (old, new) in differ.items())
            raise BuildError(f"{out} was built with other {what} ({shown}): use another --out folder")
    for image_id, info in images.items():
        old = manifest["images"].get(image_id)
        if old is None:
            continue
        if old["file"] != info["file"]:
            raise BuildError(f"image {image_id} was {old['file']} in {out}, now {info['file']}: "
                             "use another --out folder")
        if None not in (old.get("sha256"), info["sha256"]) and old["sha256"] != info["sha256"]:
            raise BuildError(f"{out} was built from other pixels for image {image_id} ({old['source']} "
                             f"there, {info['source']} now, content differs): use another --out folder")


def _reconcile_with_disk(out: Path, wanted: Iterable[str], manifest: dict) -> None:
    """Make the record match the files: adopt finished files the journal missed (killed between rename
    and journal line), forget recorded files that were deleted since, drop this build's stray temporary
    files."""
    wanted = set(wanted)
    for rel in wanted:
        exists = (out / rel).is_file()
        if rel in manifest["files"] and not exists:
            del manifest["files"][rel]
        elif rel not in manifest["files"] and exists:
            manifest["files"][rel] = sha256_file(out / rel)
    _remove_strays(out, wanted)


def _remove_strays(out: Path, wanted: Iterable[str]) -> None:
    """Delete this build's temporary files (only those of files it owns: another shard may be writing
    beside it)."""
    wanted = set(wanted)
    for cell_dir in {(out / rel).parent for rel in wanted}:
        if cell_dir.is_dir():
            for stray in cell_dir.glob(f".*{TMP_SUFFIX}"):
                target = stray.name[1:].rsplit(".", 2)[0]  # .<name>.<pid>.tmp
                if (cell_dir / target).relative_to(out).as_posix() in wanted:
                    stray.unlink(missing_ok=True)


# ---------------------------------------------------------------- the build

def plan_units(entries: Sequence[ImageEntry], corruptions: Sequence[str], severities: Sequence[int],
               shard: tuple[int, int] | None) -> list[tuple[ImageEntry, list[tuple[str, int]]]]:
    """(image, its cells) this build (or shard of it) is responsible for, in the dataset's order."""
    if shard is None:
        return [(e, [(c, s) for c in corruptions for s in severities]) for e in entries]
    units = [(e, c) for e in entries for c in corruptions]
    owner = assign([(e.file, c, len(severities)) for e, c in units], shard[1])
    mine: dict[str, tuple[ImageEntry, list[tuple[str, int]]]] = {}
    for (e, c), k in zip(units, owner, strict=True):
        if k == shard[0]:
            mine.setdefault(e.file, (e, []))[1].extend((c, s) for s in severities)
    return list(mine.values())


def build_coco_c(entries: Sequence[ImageEntry], out: str | Path, corruptions: Sequence[str],
                 severities: Sequence[int], *, settings: Settings | None = None, dataset: str = "",
                 workers: int = 1, skip_bad: bool = False, progress: bool = True,
                 shard: tuple[int, int] | None = None, threads: int | None = None) -> BuildReport:
    """Write every missing ``<out>/<corruption>/<severity>/<file>``; resumable, parallel, deterministic.

    ``workers`` > 1 uses a pool of spawned processes (safe with numba and OpenCV threads) sharing a
    ``threads`` budget (default: the available cores); 1 works in this process. ``shard=(K, N)`` builds
    the K-th of N cost-balanced shares and records it in ``manifest.shard-K-of-N.json`` (merge with
    ``merge_shards``). A bad image raises ``BuildError`` naming the file and reason, unless
    ``skip_bad``, which records it and goes on; a rerun tries skipped images again.
    """
    out = Path(out)
    settings = settings or Settings()
    if out.exists() and not out.is_dir():
        raise BuildError(f"--out {out} is a file: pass a folder")
    budget = plan_threads(threads, workers if workers > 1 else 0)
    units = plan_units(entries, corruptions, severities, shard)
    mine = [e for e, _ in units]
    hashes = {e.source: source_sha256(e.source) for e in mine}
    wanted = [cell_file(c, s, e.file) for e, cells in units for c, s in cells]
    manifest_path = out / manifest_name(shard)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with folder_lock(out):  # check the folder and claim it as one step: no two writers both pass
            manifest = _open_state(out, dataset, mine, hashes, settings, shard)
            manifest["cells"] = sorted({*planned_cells(manifest),
                                        *((c, s) for c in corruptions for s in severities)})
            if shard is not None:
                manifest["shard"] = {"index": shard[0], "count": shard[1], "corruptions": list(corruptions),
                                     "severities": list(severities)}
            manifest["built"] = {"date": now_iso(), "workers": workers, "threads": budget.as_dict(),
                                 "shard": "whole" if shard is None else f"{shard[0]}/{shard[1]}"}
            _reconcile_with_disk(out, wanted, manifest)
            retry = {e.source for e in mine} & set(manifest["skipped"])
            for source in retry:  # a skipped image is tried again: it may have been restored
                del manifest["skipped"][source]
            write_manifest(manifest_path, manifest)  # settings are on disk before the first file is
        report = _write_pending(out, units, manifest, settings, shard, workers, budget, skip_bad, progress)
        with folder_lock(out):
            _write_final(manifest_path, manifest)
        (out / journal_name(shard)).unlink(missing_ok=True)
    except OSError as error:  # a full disk or a file-size limit, here or in a worker
        _remove_strays(out, wanted)
        raise BuildError(f"cannot write {error.filename or out}: {error.strerror or error}; free space or "
                         "raise the file-size limit (ulimit -f), then rerun the same command to resume"
                         ) from None
    return report


def _write_pending(out: Path, units: list, manifest: dict, settings: Settings, shard: tuple[int, int] | None,
                   workers: int, budget: ThreadBudget, skip_bad: bool, progress: bool) -> BuildReport:
    """Write every file of ``units`` the manifest lacks, journalling each as it lands."""
    report = BuildReport()
    tasks = []
    for e, cells in units:
        pending = [(c, s) for c, s in cells if cell_file(c, s, e.file) not in manifest["files"]]
        report.reused += len(cells) - len(pending)
        if pending:
            tasks.append((e, pending, str(out), settings))
    total = sum(len(t[1]) for t in tasks)
    with open(out / journal_name(shard), "a") as journal, \
            tqdm(total=total, unit="img", desc="COCO-C", disable=not progress, smoothing=0.1) as bar, \
            contextlib.closing(_run(tasks, workers, budget)) as results:
        for result in results:
            if result["skipped"]:
                path, reason = result["skipped"]
                if not skip_bad:
                    raise BuildError(unreadable_message(path, reason))
                report.skipped[path] = reason
                manifest["skipped"][path] = reason
                journal.write(json.dumps({"skipped": path, "reason": reason}) + "\n")
                bar.total -= sum(len(t[1]) for t in tasks if t[0].image_id == result["image_id"])
            for rel, digest in result["files"]:
                manifest["files"][rel] = digest
                journal.write(json.dumps({"file": rel, "sha256": digest}) + "\n")
            journal.flush()
            for k, v in result["seconds"].items():
                report.seconds[k] += v
            report.written += len(result["files"])
            bar.update(len(result["files"]))
    return report


def _write_final(path: Path, manifest: dict) -> None:
    """Write the finished build's manifest, keeping the files a concurrent build of the same settings
    recorded there meanwhile; one of other settings there means the folder was taken: refused."""
    disk = load_manifest_file(path)
    if disk is not None:
        if (disk["settings"], disk["versions"]) != (manifest["settings"], manifest["versions"]):
            raise BuildError(f"{path} was rewritten with other settings during this build: another build "
                             f"writes into {path.parent}; give each build its own --out folder")
        for rel, digest in disk["files"].items():
            if rel not in manifest["files"] and (path.parent / rel).is_file():
                manifest["files"][rel] = digest
        manifest["cells"] = sorted({*planned_cells(manifest), *planned_cells(disk)})
    write_manifest(path, manifest)


def _run(tasks: list, workers: int, budget: ThreadBudget) -> Iterator[dict]:
    if workers <= 1 or len(tasks) <= 1:
        yield from map(_process_image, tasks)
        return
    context = multiprocessing.get_context("spawn")
    saved = dict(os.environ)
    os.environ.update(thread_env(budget.per_worker))  # read by libraries as each worker loads them
    try:
        pool = context.Pool(min(workers, len(tasks)), initializer=_WorkerInit(os.getpid(), budget.per_worker))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    with pool:
        yield from pool.imap_unordered(_process_image, tasks, chunksize=1)
