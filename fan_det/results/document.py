"""What every results document shares: a ``fan_det.<kind>/<major>`` schema, the 0-100 scale, a model
name, provenance; strict JSON written atomically; refusal of other kinds and unknown major versions."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import ClassVar

from fan_det.protocol import SCALE
from fan_det.runtime.atomic import atomic_write_json

# summaries are written from the same cells in the same process; this absorbs float printing and
# figures rounded to 4 decimals, ratios of them included (a summary edited by hand differs by far more)
SUMMARY_TOLERANCE = {"rel_tol": 1e-5, "abs_tol": 1e-4}
FIGURES = ("stats.", "holdout.")  # the summary blocks made of figures (the rest lists cells or domains)


class ResultsError(ValueError):
    """A results file is unreadable, of another kind or version, or inconsistent with itself."""


class ResultDocument:
    """A results document (a JSON object) and the file it came from, if any."""

    KIND: ClassVar[str]
    MAJOR: ClassVar[int]
    FILE_NAME: ClassVar[str]
    WRITER: ClassVar[str]  # the tool that writes this kind, named in refusals
    HEADLINE: ClassVar[str]  # a summarising kind's headline stat in ``summary.stats`` (e.g. "AP", "mIoU")
    HEADLINE_LABEL: ClassVar[str]  # how messages and the report name it (e.g. "box AP")
    NAME_LISTS: ClassVar[tuple[str, ...]] = ()  # top-level stats keys listing names (excluded classes)

    def __init__(self, doc: dict, path: str | os.PathLike | None = None):
        self.doc = doc
        self.path = Path(path) if path is not None else None

    @classmethod
    def schema(cls) -> str:
        return f"fan_det.{cls.KIND}/{cls.MAJOR}"

    @property
    def where(self) -> str:
        return str(self.path) if self.path else f"<{self.FILE_NAME}>"

    @property
    def model(self) -> dict:
        return self.doc["model"]

    @property
    def model_name(self) -> str:
        return self.doc["model"]["name"]

    @property
    def provenance(self) -> dict:
        return self.doc.get("provenance", {})

    @classmethod
    def load(cls, path: str | os.PathLike) -> ResultDocument:
        """Read and validate a file; ``ResultsError`` says what is wrong and how to fix it."""
        try:
            doc = json.loads(Path(path).read_text())
        except OSError as exc:
            raise ResultsError(f"{path}: cannot read ({exc.strerror or exc})") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ResultsError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(doc, dict):
            raise ResultsError(f"{path}: expected a JSON object at the top level")
        document = cls(doc, path)
        document.validate()
        return document

    def dump(self, path: str | os.PathLike) -> Path:
        """Validate, then write atomically as strict JSON (no NaN: absent numbers are left out)."""
        self.validate()
        self.path = atomic_write_json(path, self.doc, indent=2)
        return self.path

    def validate(self) -> None:
        """Schema, scale and model name, then the kind's own checks."""
        schema = self.doc.get("schema")
        kind, _, major = str(schema).removeprefix("fan_det.").partition("/")
        if not isinstance(schema, str) or not schema.startswith("fan_det.") or not major:
            raise ResultsError(f"{self.where}: no fan_det schema string (found {schema!r})")
        if kind != self.KIND:
            raise ResultsError(f"{self.where}: is a {schema} file, expected {self.schema()}")
        if major != str(self.MAJOR):
            raise ResultsError(f"{self.where}: unknown schema version {schema!r}; this version of fan_det "
                               f"reads {self.schema()} (rerun {self.WRITER} to rewrite it)")
        if self.doc.get("scale") != SCALE:
            raise ResultsError(f"{self.where}: scale {self.doc.get('scale')!r}; results are on the {SCALE} "
                               "scale only")
        self.require(self.doc, "model", dict)
        self.require(self.doc["model"], "name", str, where="model")
        self.check()

    # the model block's fields that say which model made a document (not where its files were)
    MODEL_IDENTITY: ClassVar[tuple[str, ...]] = ("name", "backbone", "config_sha256", "weights_sha256",
                                                 "random_init")

    @classmethod
    def identity(cls, doc: Mapping) -> dict:
        """What two documents must share to be results of the same run in one ``--out`` folder."""
        return {"model": {k: doc.get("model", {}).get(k) for k in cls.MODEL_IDENTITY}}

    def check(self) -> None:
        """The kind's own consistency checks (overridden)."""

    def require(self, obj: dict, key: str, typ: type, where: str = "") -> None:
        if not isinstance(obj.get(key), typ):
            loc = f"{where}.{key}" if where else key
            raise ResultsError(f"{self.where}: missing or malformed field {loc!r} (expected {typ.__name__})")

    def require_headline(self) -> None:
        """``summary.stats`` is a mapping that holds the kind's headline stat."""
        self.require(self.doc["summary"], "stats", dict, where="summary")
        if self.HEADLINE not in self.doc["summary"]["stats"]:
            raise ResultsError(f"{self.where}: summary.stats has no {self.HEADLINE!r}")

    def require_interval(self, block: dict, key: str) -> None:
        """An interval, where present, is ``[low, high]`` with low <= high."""
        value = block.get(key)
        if value is None:
            return
        if (not isinstance(value, list) or len(value) != 2
                or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in value)
                or value[0] > value[1]):
            raise ResultsError(f"{self.where}: {key} is {value!r}, not an interval [low, high]")

    def require_finite(self, block: dict, where: str) -> None:
        """Figures must be finite numbers (intervals: lists of them); a figure that cannot be computed is
        absent, never null or NaN, and a string or a flag where a number belongs is refused."""
        for key, value in flat_items(block):
            if key in self.NAME_LISTS:
                if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                    raise ResultsError(f"{self.where}: {where} {key} is {value!r}, not a list of names; "
                                       f"rerun {self.WRITER}")
                continue
            if value is None or (isinstance(value, float) and not math.isfinite(value)):
                raise ResultsError(f"{self.where}: {where} {key} is {value!r}; "
                                   "absent figures must be left out")
            if not all(_is_number(v) for v in (value if isinstance(value, list) else [value])):
                raise ResultsError(f"{self.where}: {where} {key} is {value!r}, not a finite number; "
                                   f"rerun {self.WRITER}")

    def require_stats(self, stats: object, where: str) -> None:
        """``stats`` is a non-empty mapping of finite numbers (nested by task where a kind nests them): a
        string where a number belongs, or a flag, is refused."""
        if not isinstance(stats, dict) or not stats:
            raise ResultsError(f"{self.where}: {where} has no stats; rerun {self.WRITER}")
        self.require_finite(stats, where)

    def require_summary_of(self, recompute: Callable[[], dict], stored: dict,
                           source: Callable[[str], str] = lambda key: "its cells") -> None:
        """``stored`` (the document's summary) equals ``recompute()`` (the same summary from the
        document's own cells), figure by figure: its ``stats`` and ``holdout`` blocks; intervals aside,
        which come from resamples, not cells. ``source(key)`` names what a figure comes from in a refusal."""
        try:
            expected = {k: v for k, v in flat_items(recompute()) if k.startswith(FIGURES)}
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ResultsError(f"{self.where}: its cells cannot be summarised ({exc}); "
                               f"rerun {self.WRITER}") from None
        shown = {k: v for k, v in flat_items(stored) if k.startswith(FIGURES) and "_ci" not in k}
        for key in sorted(expected.keys() | shown.keys()):
            mine, theirs = shown.get(key), expected.get(key)
            numbers = _is_number(mine) and _is_number(theirs)
            if (mine != theirs) if not numbers else not math.isclose(mine, theirs, **SUMMARY_TOLERANCE):
                raise ResultsError(f"{self.where}: summary {key} is {mine!r}, which disagrees with "
                                   f"{source(key)} ({theirs!r}); rerun {self.WRITER}")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def flat_items(obj: dict, prefix: str = "") -> Iterator[tuple[str, object]]:
    """``("a.b", value)`` for every leaf of nested dicts."""
    for key, value in obj.items():
        if isinstance(value, dict):
            yield from flat_items(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value
