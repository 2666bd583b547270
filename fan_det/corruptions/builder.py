"""Materialise COCO-C: ``<out>/<corruption>/<severity>/<file>`` for every image of a COCO-format dataset.

Safe to interrupt at any point, even with SIGKILL: each file is written to a hidden temporary name and
renamed into place, so a file that exists is complete. Progress is journalled (``.journal.jsonl``, one
line per finished file); a rerun replays the journal, hashes and adopts finished files the journal
missed, deletes stray temporary files and does only what is left. ``manifest.json`` records the seed,
format, library versions, the images and each file's sha256; it is rewritten atomically when a run ends.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing
import os
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
from tqdm import tqdm

from fan_det.corruptions.core import corrupt
from fan_det.corruptions.imageio import ImageReadError, decode_image, encode_image, read_rgb

SCHEMA = "fan_det.coco_c_manifest/1"
MANIFEST = "manifest.json"
JOURNAL = ".journal.jsonl"
TMP_SUFFIX = ".fan-tmp"


class BuildError(RuntimeError):
    """A build that cannot start or go on (bad image without ``skip_bad``, incompatible output folder)."""


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
    """One source image: its COCO id (the corruption key), where to read it, its relative output file."""

    image_id: int | str
    source: str
    file: str


@dataclass
class BuildReport:
    written: int = 0
    reused: int = 0
    skipped: dict[str, str] = field(default_factory=dict)  # source path -> reason
    seconds: dict[str, float] = field(default_factory=lambda: {"read": 0.0, "corrupt": 0.0, "encode": 0.0,
                                                               "write": 0.0})


def library_versions() -> dict[str, str]:
    """Versions of every library that can change a corrupted pixel or an encoded byte."""
    from importlib.metadata import PackageNotFoundError, version

    import cv2
    import numba
    import PIL
    import scipy
    import skimage

    try:
        ic_version = version("imagecorruptions-imaug")
    except PackageNotFoundError:
        ic_version = "imagecorruptions " + version("imagecorruptions")
    return {"imagecorruptions": ic_version, "numpy": np.__version__, "scipy": scipy.__version__,
            "scikit-image": skimage.__version__, "opencv": cv2.__version__, "numba": numba.__version__,
            "Pillow": PIL.__version__}


def output_file(file_name: str, fmt: str) -> str:
    """The relative output path: the COCO ``file_name`` with the format's extension; never escapes ``out``."""
    path = PurePosixPath(str(file_name).replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or not path.name:
        raise BuildError(f"file_name {file_name!r} must be a relative path inside the image root")
    return str(path.with_suffix("." + fmt))


def cell_file(corruption: str, severity: int, file: str) -> str:
    return f"{corruption}/{severity}/{file}"


def load_images(dataset: str, image_root: str | Path | None, fmt: str) -> list[ImageEntry]:
    """Images of a COCO json (``image_root`` required) or of a dataset registered with detectron2."""
    if dataset.endswith(".json") or Path(dataset).is_file():
        if image_root is None:
            raise BuildError("--image-root is required when --dataset is a COCO json file")
        try:
            images = json.loads(Path(dataset).read_text())["images"]
        except (OSError, ValueError, KeyError) as err:
            raise BuildError(f"cannot read COCO images from {dataset}: {err}") from None
        pairs = [(im["id"], Path(image_root) / im["file_name"], im["file_name"]) for im in images]
    else:
        pairs = _registered_images(dataset, image_root)
    entries = [ImageEntry(image_id, str(source), output_file(name, fmt)) for image_id, source, name in pairs]
    _check_unique(entries)
    return entries


def _registered_images(name: str, image_root: str | Path | None) -> list[tuple[int | str, Path, str]]:
    import detectron2.data  # noqa: F401  (registers detectron2's builtin datasets, e.g. coco_2017_val)
    from detectron2.data import DatasetCatalog, MetadataCatalog

    from fan_det.data.register import register_tiny_datasets

    register_tiny_datasets()
    if name not in DatasetCatalog.list():
        raise BuildError(f"dataset {name!r} is neither a COCO json file nor a registered detectron2 dataset")
    try:
        dicts = DatasetCatalog.get(name)
    except (OSError, AssertionError) as err:
        raise BuildError(f"cannot load dataset {name!r}: {err}") from None
    root = Path(image_root or MetadataCatalog.get(name).get("image_root", "/"))
    pairs = []
    for d in dicts:
        source = Path(d["file_name"])
        try:
            rel = source.relative_to(root).as_posix()
        except ValueError:
            rel = source.name
        pairs.append((d["image_id"], source, rel))
    return pairs


def _check_unique(entries: Sequence[ImageEntry]) -> None:
    for attr in ("image_id", "file"):
        seen: dict[str, ImageEntry] = {}
        for e in entries:
            value = str(getattr(e, attr))
            if value in seen:
                raise BuildError(f"two images share the {attr} {value!r}: {seen[value].source}, {e.source}")
            seen[value] = e


def write_atomic(path: Path, data: bytes) -> None:
    """Write then rename: ``path`` either does not exist or holds all of ``data``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}{TMP_SUFFIX}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- worker side (runs in pool processes)

def _init_worker() -> None:
    import cv2

    cv2.setNumThreads(1)  # one process per core; results do not depend on it


def _process_image(task: tuple[ImageEntry, list[tuple[str, int]], str, Settings]) -> dict:
    """Read one image once and write all its pending cells; report hashes, timings or why it was skipped."""
    import time

    entry, cells, out, settings = task
    seconds = {"read": 0.0, "corrupt": 0.0, "encode": 0.0, "write": 0.0}
    t0 = time.perf_counter()
    try:
        image = read_rgb(entry.source)
    except ImageReadError as err:
        return {"image_id": entry.image_id, "skipped": (err.path, err.reason), "files": [],
                "seconds": seconds}
    seconds["read"] = time.perf_counter() - t0
    files = []
    for corruption, severity in cells:
        t0 = time.perf_counter()
        result = corrupt(image, corruption, severity, seed=settings.seed, key=entry.image_id)
        t1 = time.perf_counter()
        data = settings.encode(result)
        t2 = time.perf_counter()
        rel = cell_file(corruption, severity, entry.file)
        write_atomic(Path(out) / rel, data)
        t3 = time.perf_counter()
        seconds["corrupt"] += t1 - t0
        seconds["encode"] += t2 - t1
        seconds["write"] += t3 - t2
        files.append((rel, hashlib.sha256(data).hexdigest()))
    return {"image_id": entry.image_id, "skipped": None, "files": files, "seconds": seconds}


# ---------------------------------------------------------------- state on disk

def _read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def _write_manifest(out: Path, manifest: dict) -> None:
    write_atomic(out / MANIFEST, (json.dumps(manifest, sort_keys=True, indent=1) + "\n").encode())


def _replay_journal(path: Path) -> Iterator[dict]:
    """Journal lines; a last line cut short by a kill is ignored."""
    if not path.exists():
        return
    for line in path.read_text().splitlines():
        try:
            yield json.loads(line)
        except ValueError:
            continue


def _open_state(out: Path, dataset: str, entries: Sequence[ImageEntry], settings: Settings) -> dict:
    """Load (or start) the manifest, refusing an output folder built with other settings or libraries."""
    versions = library_versions()
    images = {str(e.image_id): {"source": e.source, "file": e.file} for e in entries}
    manifest = _read_json(out / MANIFEST)
    if manifest is None:
        manifest = {"schema": SCHEMA, "dataset": dataset, "settings": asdict(settings), "versions": versions,
                    "images": {}, "files": {}, "skipped": {}}
    else:
        if manifest.get("schema") != SCHEMA:
            raise BuildError(f"{out / MANIFEST} is not a {SCHEMA} manifest")
        for what, mine in (("settings", asdict(settings)), ("versions", versions)):
            differ = {k: (manifest[what].get(k), v) for k, v in mine.items() if manifest[what].get(k) != v}
            if differ:
                shown = ", ".join(f"{k} {old!r} there, {new!r} now" for k, (old, new) in differ.items())
                raise BuildError(f"{out} was built with other {what} ({shown}): use another --out folder")
        for image_id, info in images.items():
            old = manifest["images"].get(image_id)
            if old is not None and old["file"] != info["file"]:
                raise BuildError(f"image {image_id} was {old['file']} in {out}, now {info['file']}")
    manifest["images"].update(images)
    for record in _replay_journal(out / JOURNAL):
        if "file" in record:
            manifest["files"][record["file"]] = record["sha256"]
        elif "skipped" in record:
            manifest["skipped"][record["skipped"]] = record["reason"]
    return manifest


def _reconcile_with_disk(out: Path, wanted: Iterable[str], manifest: dict) -> None:
    """Make the record match the files: adopt finished files the journal missed (killed between rename
    and journal line), forget recorded files that were deleted since, drop stray temporary files."""
    for rel in wanted:
        exists = (out / rel).is_file()
        if rel in manifest["files"] and not exists:
            del manifest["files"][rel]
        elif rel not in manifest["files"] and exists:
            manifest["files"][rel] = sha256_file(out / rel)
    for cell_dir in {(out / rel).parent for rel in wanted}:
        if cell_dir.is_dir():
            for stray in cell_dir.glob(f".*{TMP_SUFFIX}"):
                stray.unlink(missing_ok=True)


# ---------------------------------------------------------------- the build

def build_coco_c(entries: Sequence[ImageEntry], out: str | Path, corruptions: Sequence[str],
                 severities: Sequence[int], *, settings: Settings | None = None, dataset: str = "",
                 workers: int = 1, skip_bad: bool = False, progress: bool = True) -> BuildReport:
    """Write every missing ``<out>/<corruption>/<severity>/<file>``; resumable, parallel, deterministic.

    ``workers`` > 1 uses a pool of spawned processes (safe with numba and OpenCV threads); 1 works in this
    process. A bad image raises ``BuildError`` naming the file and reason, unless ``skip_bad``, which
    records it in the report and manifest and goes on.
    """
    out = Path(out)
    settings = settings or Settings()
    out.mkdir(parents=True, exist_ok=True)
    manifest = _open_state(out, dataset, entries, settings)
    cells = [(c, s) for c in corruptions for s in severities]
    wanted = [cell_file(c, s, e.file) for e in entries for c, s in cells]
    report = BuildReport()
    _reconcile_with_disk(out, wanted, manifest)
    _write_manifest(out, manifest)  # settings are on disk before the first file is
    tasks = []
    for e in entries:
        if e.source in manifest["skipped"]:
            report.skipped[e.source] = manifest["skipped"][e.source]
            continue
        pending = [(c, s) for c, s in cells if cell_file(c, s, e.file) not in manifest["files"]]
        report.reused += len(cells) - len(pending)
        if pending:
            tasks.append((e, pending, str(out), settings))
    total = sum(len(t[1]) for t in tasks)
    with open(out / JOURNAL, "a") as journal, \
            tqdm(total=total, unit="img", desc="COCO-C", disable=not progress, smoothing=0.1) as bar, \
            contextlib.closing(_run(tasks, workers)) as results:
        for result in results:
            if result["skipped"]:
                path, reason = result["skipped"]
                if not skip_bad:
                    raise BuildError(f"cannot use image {path}: {reason} (rerun with --skip-bad to go on "
                                     "without it)")
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
    _write_manifest(out, manifest)
    (out / JOURNAL).unlink(missing_ok=True)
    return report


def _run(tasks: list, workers: int) -> Iterator[dict]:
    if workers <= 1 or len(tasks) <= 1:
        yield from map(_process_image, tasks)
        return
    context = multiprocessing.get_context("spawn")
    with context.Pool(min(workers, len(tasks)), initializer=_init_worker) as pool:
        yield from pool.imap_unordered(_process_image, tasks, chunksize=1)


# ---------------------------------------------------------------- verification

@dataclass
class VerifyReport:
    checked: int
    missing: list[str]
    mismatched: list[str]

    @property
    def ok(self) -> bool:
        return not self.missing and not self.mismatched


def verify_coco_c(out: str | Path, samples: int = 16, *, sample_seed: int = 0) -> VerifyReport:
    """Check every manifest file exists; for a random sample, check its sha256 and recompute it from source.

    PNG files are compared pixel for pixel (zlib builds may differ in bytes), JPEG files byte for byte.
    """
    out = Path(out)
    manifest = _read_json(out / MANIFEST)
    if manifest is None:
        raise BuildError(f"no {MANIFEST} in {out}: nothing to verify")
    settings = Settings(**manifest["settings"])
    files = sorted(manifest["files"])
    missing = [rel for rel in files if not (out / rel).is_file()]
    by_file = {info["file"]: (image_id, info["source"]) for image_id, info in manifest["images"].items()}
    present = [rel for rel in files if rel not in set(missing)]
    sample = random.Random(sample_seed).sample(present, min(samples, len(present)))
    mismatched = []
    for rel in sample:
        corruption, severity, file = rel.split("/", 2)
        data = (out / rel).read_bytes()
        image_id, source = by_file[file]  # the key is hashed as text, so the id's JSON string form is exact
        expected = corrupt(read_rgb(source), corruption, int(severity), seed=settings.seed, key=image_id)
        if hashlib.sha256(data).hexdigest() != manifest["files"][rel]:
            mismatched.append(f"{rel}: sha256 differs from the manifest")
        elif settings.format == "png" and not np.array_equal(decode_image(data), expected):
            mismatched.append(f"{rel}: pixels differ from a fresh corruption of {source}")
        elif settings.format == "jpg" and settings.encode(expected) != data:
            mismatched.append(f"{rel}: bytes differ from a fresh corruption and encoding of {source}")
    return VerifyReport(checked=len(sample), missing=missing, mismatched=mismatched)
