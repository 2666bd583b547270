"""Find the results files the report reads and merge them across files.

Each file is read and validated by its ``fan_det.results`` class (``fan_det.results.KINDS``), the one
reader of each results kind. Here live only the rules across files: one detection dataset, one image
count per OOD dataset, and one row per model name, so that runs of one name that differ in anything that
changes a number (weights, checkpoint, seed, preprocessing, AMP) or that disagree on a number are refused
with the difference named. Which kinds the report reads, and with which flags, is the sections' business
(``fan_det.report.registry``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from fan_det.results import KINDS, OODResult, ResultDocument, ResultsError
from fan_det.results.document import flat_items

# keys that say where a run was made or how long it took, not what it computed
NOT_NUMBERS = ("provenance", "seconds", "path")
# file paths whose content hash the model block also records (the hash decides, not the path)
HASHED_PATHS = ("checkpoint", "weights", "config")


class ReportInputError(ValueError):
    """An input file is unreadable, of an unknown schema, or inconsistent with itself or the others."""


@dataclass
class ResultFile:
    """One validated results document and what merging it with others noted."""

    result: ResultDocument
    notes: list[str] = field(default_factory=list)

    @property
    def path(self) -> Path:
        return self.result.path

    @property
    def doc(self) -> dict:
        return self.result.doc

    @property
    def model_name(self) -> str:
        return self.result.model_name


def find_result_files(arg: str | Path, kind: str) -> list[Path]:
    """A file as given, or every results file of ``kind`` (``robustness.json``, ...) under a folder
    (sorted)."""
    path, file_name = Path(arg), KINDS[kind].FILE_NAME
    if path.is_file():
        return [path]
    if path.is_dir():
        found = sorted(path.rglob(file_name))
        if not found:
            raise ReportInputError(f"no {file_name} under {path}")
        return found
    raise ReportInputError(f"{path}: no such file or folder")


def read_result(path: Path, kind: str, flags: Mapping[str, str]) -> ResultFile:
    """Load and validate one file with its ``fan_det.results`` class; a file of another kind is refused
    naming the flag that reads it (``flags``: kind -> flag)."""
    try:
        return ResultFile(KINDS[kind].load(path))
    except ResultsError as exc:
        for other, flag in flags.items():
            if other != kind and _loads_as(KINDS[other], path):
                raise ReportInputError(f"{exc}; pass it with {flag}") from None
        raise ReportInputError(str(exc)) from None


def _loads_as(reader: type[ResultDocument], path: Path) -> bool:
    try:
        reader.load(path)
    except ResultsError:
        return False
    return True


def _numbers(obj: object) -> object:
    """The document without provenance and timings: what must agree for two runs to be 'the same'."""
    if isinstance(obj, dict):
        return {k: _numbers(v) for k, v in obj.items() if k not in NOT_NUMBERS}
    if isinstance(obj, list):
        return [_numbers(v) for v in obj]
    return obj


def run_settings(doc: dict) -> dict[str, object]:
    """Everything of a run but its numbers and provenance, flattened: model (weights by hash),
    preprocessing, protocol, dataset, evaluation settings."""
    model = {
        k: v for k, v in doc["model"].items() if not (k in HASHED_PATHS and f"{k}_sha256" in doc["model"])
    }
    numbers = ("model", "datasets", "domains", "cells", "summary", "provenance")
    rest = {k: v for k, v in doc.items() if k not in numbers}
    return dict(flat_items(_numbers({"model": model, **rest})))


def _settings_difference(first: ResultFile, second: ResultFile) -> str:
    """``""`` when the two runs share every setting, else the differing settings with both values."""
    a, b = run_settings(first.doc), run_settings(second.doc)
    differ = [k for k in sorted(a.keys() | b.keys()) if a.get(k) != b.get(k)]
    return "; ".join(f"{k}: {json.dumps(a.get(k))} vs {json.dumps(b.get(k))}" for k in differ)


def _refuse_other_settings(kind: str, seen: ResultFile, rf: ResultFile) -> None:
    difference = _settings_difference(seen, rf)
    if difference:
        raise ReportInputError(
            f"{kind} model {rf.model_name!r} appears in {seen.path} and {rf.path} with other settings "
            f"({difference}); runs that differ are different models: give them different names (--name)"
        )


def merge_detection(files: list[ResultFile], what: str = "detection") -> list[ResultFile]:
    """One entry per model; refuse the same model with other settings or numbers, or other datasets.
    ``what`` names the results in refusals (COCO-O results follow the same rules)."""
    by_name: dict[str, ResultFile] = {}
    for rf in files:
        seen = by_name.setdefault(rf.model_name, rf)
        if seen is rf:
            continue
        _refuse_other_settings(what, seen, rf)
        if _numbers(seen.doc) != _numbers(rf.doc):
            raise ReportInputError(
                f"{what} model {rf.model_name!r} appears twice with different numbers ({seen.path} and "
                f"{rf.path}); keep one, or give the runs different model names"
            )
        seen.notes.append(f"identical result also in {rf.path}")
    merged = list(by_name.values())
    datasets = {(rf.doc["dataset"].get("name"), rf.doc["dataset"].get("num_images")) for rf in merged}
    if len(datasets) > 1:
        listing = "; ".join(
            f"{rf.path}: {rf.doc['dataset'].get('name')} ({rf.doc['dataset'].get('num_images')} images)"
            for rf in merged
        )
        raise ReportInputError(f"{what} results are on different datasets, so not comparable: {listing}")
    return merged


def merge_ood(files: list[ResultFile]) -> list[ResultFile]:
    """One entry per model (datasets of several runs merged); refuse other settings, conflicting numbers
    or image counts."""
    by_name: dict[str, ResultFile] = {}
    for rf in files:
        seen = by_name.get(rf.model_name)
        if seen is None:
            copy = OODResult(json.loads(json.dumps(rf.doc)), rf.path)
            by_name[rf.model_name] = ResultFile(copy)
            continue
        _refuse_other_settings("OOD", seen, rf)
        for name, block in rf.doc["datasets"].items():
            other = seen.doc["datasets"].get(name)
            if other is None:
                seen.doc["datasets"][name] = block
                seen.notes.append(f"{name} from {rf.path}")
            elif _numbers(other) != _numbers(block):
                raise ReportInputError(
                    f"OOD model {rf.model_name!r} has two different results on {name} ({seen.path} and "
                    f"{rf.path}); keep one"
                )
            else:
                seen.notes.append(f"identical {name} result also in {rf.path}")
    merged = list(by_name.values())
    counts: dict[str, dict[int, str]] = {}
    for rf in merged:
        for name, block in rf.doc["datasets"].items():
            counts.setdefault(name, {})[block.get("num_images")] = rf.model_name
    for name, seen_counts in counts.items():
        if len(seen_counts) > 1:
            listing = ", ".join(f"{model}: {n} images" for n, model in seen_counts.items())
            raise ReportInputError(
                f"{name} was evaluated on different image counts ({listing}); "
                "models must see the same images to be compared"
            )
    return merged


def read_all(args: list[str | Path], kind: str, flags: Mapping[str, str]) -> list[ResultFile]:
    """Every results file of ``kind`` the arguments name (files, or folders searched), read and checked."""
    return [read_result(p, kind, flags) for arg in args for p in find_result_files(arg, kind)]
