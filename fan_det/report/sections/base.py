"""What a report section declares, so that reading, building, laying out and the headline iterate over
the registered sections (``fan_det.report.registry``) instead of naming them.

A section reads one results kind (its class in ``fan_det.results.KINDS``) given with one command-line
flag, turns each merged file into a model entry, and says which tables, figures, layout blocks, headline
columns and published-number lookups it contributes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from fan_det.report.inputs import ResultFile
    from fan_det.report.references import ReferenceTable

# a layout section: (heading, [(block kind, content), ...]) as ``fan_det.report.layout`` documents
Layout = list[tuple[str, list[tuple[str, object]]]]


@dataclass(frozen=True)
class HeadlineColumn:
    """One column of the one-row-per-backbone table: its ``tables.column`` and how a model fills it."""

    column: dict
    cell: Callable[[dict, dict], tuple[object, list | None]]  # (model entry, report) -> (value, interval)
    partial: bool = True  # a partial model's value is ranked as partial here


def _nothing(*_: object) -> dict:
    return {}


def _no_layout(*_: object) -> Layout:
    return []


def _no_columns(_: dict) -> list[HeadlineColumn]:
    return []


@dataclass(frozen=True)
class Section:
    """A report section; ``key`` names its block in ``report.json``, its option's dest and its
    ``write_report`` keyword."""

    key: str
    kind: str  # the results kind it reads: fan_det.results.KINDS[kind]
    flag: str  # its command-line option, e.g. --coco-o
    model: Callable[[ResultFile], dict]  # a merged file's model entry (common.model_entry and more)
    merge: Callable[[list[ResultFile]], list[ResultFile]]  # one entry per model: fan_det.report.inputs
    content: Callable[[list[dict]], dict]  # the block report[key]: {"models": [...], "tables": [...], ...}
    headline_title: str  # its part of the headline table's title
    layout: Callable[[dict, dict[str, str]], Layout] = _no_layout  # (report, figure captions) -> sections
    figures: Callable[[dict], dict[str, tuple[str, Figure]]] = _nothing  # report -> {id: (caption, fig)}
    headline: Callable[[dict], list[HeadlineColumn]] = _no_columns  # report -> its headline columns
    derived: Callable[[dict], dict] = _nothing  # its block -> further report blocks (effective robustness)
    provenance: Callable[[dict], dict] = _nothing  # model entry -> what its input provenance adds
    reference_task: str | None = None  # the eval/reference task whose published metrics it fills
    reference_value: Callable[[str, dict], float | None] = field(default=lambda key, m: None)
    reference_line: Callable[[ReferenceTable, dict], str] = field(default=lambda ref, m: "")
