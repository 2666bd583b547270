"""The evaluation protocols' facts, in one place: corruption names, sets, families and severities, the
clean cell, and the OOD classification datasets with their class subsets.

A leaf module (standard library only), so metrics, CLIs and the report can import it without torch,
detectron2 or the corruption library. The corruption names and their order are those of
``imagecorruptions.get_corruption_names`` (its "common" and "validation" subsets); a test checks they
stay equal. That library imports scikit-image, numba and OpenCV at import time, so this leaf keeps the
literal list.
Definitions and citations: ``docs/metrics.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

FAMILIES: dict[str, tuple[str, ...]] = {
    "noise": ("gaussian_noise", "shot_noise", "impulse_noise"),
    "blur": ("defocus_blur", "glass_blur", "motion_blur", "zoom_blur"),
    "weather": ("snow", "frost", "fog", "brightness"),
    "digital": ("contrast", "elastic_transform", "pixelate", "jpeg_compression"),
}
# The 15 benchmark corruptions (Hendrycks & Dietterich 2019) are the four families, in this order.
BENCHMARK: tuple[str, ...] = tuple(name for family in FAMILIES.values() for name in family)
# The 4 held-out ("validation") corruptions: reported apart, never mixed into mPC or mCE.
HOLDOUT: tuple[str, ...] = ("speckle_noise", "gaussian_blur", "spatter", "saturate")
ALL_CORRUPTIONS: tuple[str, ...] = BENCHMARK + HOLDOUT

CORRUPTION_SETS: dict[str, tuple[str, ...]] = {
    "benchmark": BENCHMARK, **FAMILIES, "holdout": HOLDOUT, "all": ALL_CORRUPTIONS,
}
SEVERITIES: tuple[int, ...] = (1, 2, 3, 4, 5)
CLEAN = "clean"
CLEAN_SEVERITY = 0
SCALE = "0-100"  # every accuracy and AP in a results file


class Cell(NamedTuple):
    """One evaluation of a whole dataset: ``("clean", 0)`` or a corruption at severity 1-5."""

    corruption: str
    severity: int

    @property
    def name(self) -> str:
        """File-name-safe label, e.g. ``gaussian_noise-3``."""
        return f"{self.corruption}-{self.severity}"

    @property
    def is_clean(self) -> bool:
        return self.corruption == CLEAN


CLEAN_CELL = Cell(CLEAN, CLEAN_SEVERITY)


def plan_cells(corruptions: Sequence[str], severities: Sequence[int]) -> list[Cell]:
    """The clean cell, then corruption-major order (all severities of one corruption together)."""
    return [CLEAN_CELL] + [Cell(c, s) for c in corruptions for s in severities]


def resolve_corruptions(spec: str) -> tuple[str, ...]:
    """A set name (``benchmark``, ``noise``, ...) or comma-separated names; given order, deduplicated."""
    names: list[str] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        found = CORRUPTION_SETS.get(part, (part,) if part in ALL_CORRUPTIONS else None)
        if found is None:
            raise ValueError(f"unknown corruption or set {part!r}; sets: {', '.join(CORRUPTION_SETS)}; "
                             f"corruptions: {', '.join(ALL_CORRUPTIONS)}")
        names.extend(n for n in found if n not in names)
    if not names:
        raise ValueError(f"no corruption named in {spec!r}")
    return tuple(names)


def parse_severities(spec: str) -> tuple[int, ...]:
    """``"1-5"``, ``"1,3"`` or ``"2"`` to sorted unique severities in 1..5 (0, clean, is no cell to build).

    A range needs both ends, low first: ``1-`` and ``5-1`` are refused, never read as something else.
    """
    values: set[int] = set()
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        lo, dash, hi = (x.strip() for x in part.partition("-"))
        if not lo.isdigit() or (dash and not hi.isdigit()):
            raise ValueError(f"bad severities {spec!r}: {part!r} is not a severity or a range with both "
                             "ends; expected a range like 1-5 or a list like 1,3")
        if dash and int(hi) < int(lo):
            raise ValueError(f"bad severities {spec!r}: range {part!r} runs backwards; write {hi}-{lo}")
        values.update(range(int(lo), int(hi or lo) + 1))
    if not values or not values <= set(SEVERITIES):
        raise ValueError(f"bad severities {spec!r}: each must be in 1..5")
    return tuple(sorted(values))


# OOD classification datasets eval_ood knows, in report order.
IMAGENET = "imagenet"
OOD_DATASETS: tuple[str, ...] = ("imagenet", "imagenet-a", "imagenet-r", "imagenet-sketch", "imagenet-c",
                                 "imagenet-v2")
# ImageNetV2's three released test sets (Recht et al. 2019); matched-frequency is the headline one.
IMAGENET_V2_VARIANTS: tuple[str, ...] = ("matched-frequency", "threshold-0.7", "top-images")
# Datasets scored on a 200-class subset of ImageNet-1k (Hendrycks et al. 2021): the subset's name in
# timm's class lists (``timm.data.ImageNetInfo`` / ``timm/data/_info/<name>_synsets.txt``).
CLASS_SUBSETS: dict[str, str] = {"imagenet-a": "imagenet_a", "imagenet-r": "imagenet_r"}

# COCO-O (Mao et al. 2023): six domains of natural shift for COCO detectors, each a COCO-format folder
# ``<root>/<domain>/val2017/*.jpg`` + ``<root>/<domain>/annotations/instances_val2017.json``.
COCO_O_DOMAINS: tuple[str, ...] = ("sketch", "cartoon", "painting", "weather", "handmake", "tattoo")
