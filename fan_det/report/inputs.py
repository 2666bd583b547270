"""Read ``robustness.json`` and ``ood.json`` results and refuse anything the report could misstate.

The schemas are fixed in ``docs/schemas.md``. The report puts several models side by side, so besides
each file's own shape it checks that the files agree with one another: one scale, one detection dataset,
one image count per OOD dataset, and no model reported twice with different numbers.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

SCALE = "0-100"
KNOWN_MAJOR = {"robustness": 1, "ood": 1}
FILE_NAMES = {"robustness": "robustness.json", "ood": "ood.json"}
# summary values are rounded by some writers: tolerate this much when checking them against the cells
TOLERANCE = 0.02


class ReportInputError(ValueError):
    """An input file is unreadable, of an unknown schema, or inconsistent with itself or the others."""


@dataclass
class ResultFile:
    """One results document and where it came from."""

    kind: str  # "robustness" | "ood"
    path: Path
    doc: dict
    notes: list[str] = field(default_factory=list)

    @property
    def model_name(self) -> str:
        return self.doc["model"]["name"]


def find_result_files(arg: str | Path, kind: str) -> list[Path]:
    """A file as given, or every ``robustness.json`` / ``ood.json`` under a folder (sorted)."""
    path = Path(arg)
    if path.is_file():
        return [path]
    if path.is_dir():
        found = sorted(path.rglob(FILE_NAMES[kind]))
        if not found:
            raise ReportInputError(f"no {FILE_NAMES[kind]} under {path}")
        return found
    raise ReportInputError(f"{path}: no such file or folder")


def read_result(path: Path, kind: str) -> ResultFile:
    """Parse one file and check its schema, scale and required fields."""
    try:
        doc = json.loads(Path(path).read_text())
    except OSError as exc:
        raise ReportInputError(f"{path}: cannot read ({exc.strerror})") from exc
    except json.JSONDecodeError as exc:
        raise ReportInputError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(doc, dict):
        raise ReportInputError(f"{path}: expected a JSON object at the top level")
    _check_schema(path, doc, kind)
    if doc.get("scale") != SCALE:
        raise ReportInputError(
            f"{path}: scale {doc.get('scale')!r}, but the report combines results on the {SCALE} scale only; "
            "rewrite the file on the 0-100 scale"
        )
    _require(path, doc, "model", dict)
    _require(path, doc["model"], "name", str, where="model")
    if kind == "robustness":
        _check_robustness(path, doc)
    else:
        _check_ood(path, doc)
    return ResultFile(kind, Path(path), doc)


def _check_schema(path: Path, doc: dict, kind: str) -> None:
    schema = doc.get("schema")
    if not isinstance(schema, str) or not schema.startswith("fan_det.") or "/" not in schema:
        raise ReportInputError(f"{path}: no fan_det schema string (found {schema!r})")
    name, _, major = schema[len("fan_det.") :].partition("/")
    if name != kind:
        flag = {"robustness": "--detection", "ood": "--ood"}.get(name)
        hint = f"; pass it with {flag}" if flag else ""
        raise ReportInputError(
            f"{path}: is a {schema} file, expected fan_det.{kind}/{KNOWN_MAJOR[kind]}{hint}"
        )
    if major != str(KNOWN_MAJOR[kind]):
        raise ReportInputError(
            f"{path}: unknown schema version {schema!r}; this report reads fan_det.{kind}/{KNOWN_MAJOR[kind]}"
        )


def _require(path: Path, obj: dict, key: str, typ: type, where: str = "") -> None:
    if not isinstance(obj.get(key), typ):
        loc = f"{where}.{key}" if where else key
        raise ReportInputError(f"{path}: missing or malformed field {loc!r} (expected {typ.__name__})")


def _check_robustness(path: Path, doc: dict) -> None:
    for key, typ in (("dataset", dict), ("protocol", dict), ("cells", list), ("summary", dict)):
        _require(path, doc, key, typ)
    _require(path, doc["summary"], "stats", dict, where="summary")
    if "AP" not in doc["summary"]["stats"]:
        raise ReportInputError(f"{path}: summary.stats has no 'AP'")
    cells: dict[tuple[str, int], dict] = {}
    for cell in doc["cells"]:
        key = (cell.get("corruption"), cell.get("severity"))
        if key in cells:
            raise ReportInputError(f"{path}: cell {key[0]} severity {key[1]} appears twice")
        cells[key] = cell
    clean = cells.get(("clean", 0))
    p = doc["summary"]["stats"]["AP"].get("P")
    if clean is not None and p is not None:
        clean_ap = clean["stats"]["bbox"]["AP"]
        if abs(clean_ap - p) > TOLERANCE:
            raise ReportInputError(f"{path}: summary P {p} disagrees with the clean cell's box AP {clean_ap}")
    for stat, block in doc["summary"]["stats"].items():
        for corruption, value in block.get("per_corruption", {}).items():
            values = [_cell_stat(c, stat) for (name, _), c in cells.items() if name == corruption]
            values = [v for v in values if v is not None]
            if values and abs(sum(values) / len(values) - value) > TOLERANCE:
                raise ReportInputError(
                    f"{path}: summary {stat} for {corruption} is {value}, but its cells average "
                    f"{sum(values) / len(values):.4f}"
                )
    summary = doc["summary"]
    if not summary.get("partial", False) and summary.get("missing"):
        raise ReportInputError(f"{path}: summary lists missing cells but is not marked partial")


def _cell_stat(cell: dict, stat: str) -> float | None:
    task, _, name = stat.rpartition("/")
    return cell.get("stats", {}).get(task or "bbox", {}).get(name)


def _check_ood(path: Path, doc: dict) -> None:
    _require(path, doc, "datasets", dict)
    if not doc["datasets"]:
        raise ReportInputError(f"{path}: no datasets")
    for name, block in doc["datasets"].items():
        if not isinstance(block, dict) or not isinstance(block.get("metrics"), dict):
            raise ReportInputError(f"{path}: dataset {name!r} has no metrics")
        for metric, value in _flat_numbers(block["metrics"]):
            if value is None or (isinstance(value, float) and not math.isfinite(value)):
                raise ReportInputError(
                    f"{path}: {name} metric {metric} is {value!r}; absent keys must be left out"
                )


def _flat_numbers(obj: dict, prefix: str = "") -> list[tuple[str, object]]:
    out = []
    for key, value in obj.items():
        if isinstance(value, dict):
            out += _flat_numbers(value, f"{prefix}{key}.")
        else:
            out.append((f"{prefix}{key}", value))
    return out


def _model_identity(doc: dict) -> tuple:
    model = doc["model"]
    return (model.get("weights_sha256") or model.get("checkpoint_sha256"), bool(model.get("random_init")))


def merge_detection(files: list[ResultFile]) -> list[ResultFile]:
    """One entry per model; refuse the same model with other numbers, or models on other datasets."""
    by_name: dict[str, ResultFile] = {}
    for rf in files:
        seen = by_name.get(rf.model_name)
        if seen is None:
            by_name[rf.model_name] = rf
            continue
        if _numbers(seen.doc) != _numbers(rf.doc):
            raise ReportInputError(
                f"detection model {rf.model_name!r} appears twice with different numbers ({seen.path} and "
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
        raise ReportInputError(f"detection results are on different datasets, so not comparable: {listing}")
    return merged


def merge_ood(files: list[ResultFile]) -> list[ResultFile]:
    """One entry per model (datasets of several runs merged); refuse conflicting numbers or image counts."""
    by_name: dict[str, ResultFile] = {}
    for rf in files:
        seen = by_name.get(rf.model_name)
        if seen is None:
            by_name[rf.model_name] = ResultFile(rf.kind, rf.path, json.loads(json.dumps(rf.doc)))
            continue
        if _model_identity(seen.doc) != _model_identity(rf.doc):
            raise ReportInputError(
                f"OOD model {rf.model_name!r} appears in {seen.path} and {rf.path} with different "
                "checkpoints or random-init flags; give the runs different model names"
            )
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


def _numbers(obj: object) -> object:
    """The document without provenance and timings: what must agree for two runs to be 'the same'."""
    if isinstance(obj, dict):
        return {k: _numbers(v) for k, v in obj.items() if k not in ("provenance", "seconds", "path")}
    if isinstance(obj, list):
        return [_numbers(v) for v in obj]
    return obj


def load_inputs(
    detection: list[str | Path], ood: list[str | Path]
) -> tuple[list[ResultFile], list[ResultFile]]:
    """Find, read, check and merge every input; raises ``ReportInputError`` with the reason."""
    det = [read_result(p, "robustness") for arg in detection for p in find_result_files(arg, "robustness")]
    oods = [read_result(p, "ood") for arg in ood for p in find_result_files(arg, "ood")]
    if not det and not oods:
        raise ReportInputError("nothing to report: give at least one --detection or --ood result")
    return merge_detection(det), merge_ood(oods)
