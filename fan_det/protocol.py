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


# Corruption-grid protocols: which corruptions at which severities a grid's headline mean averages. Every
# protocol averages the same way (the mean over severities of each corruption, then the mean over
# corruptions, ``docs/metrics.md``); numbers of different protocols are never ranked against each other.
# Families group the per-corruption means for the report; a protocol keeps its source's grouping.
# The FAN authors' Cityscapes-C table (Zhou et al. 2022) takes SegFormer's 16 columns (Xie et al. 2021, after
# Kamann & Rother 2020): no zoom_blur, elastic_transform or pixelate, brightness among the digital ones.
CITY_C_FAMILIES: dict[str, tuple[str, ...]] = {
    "blur": ("motion_blur", "defocus_blur", "glass_blur", "gaussian_blur"),
    "noise": ("gaussian_noise", "impulse_noise", "shot_noise", "speckle_noise"),
    "digital": ("brightness", "contrast", "saturate", "jpeg_compression"),
    "weather": ("snow", "spatter", "fog", "frost"),
}
# The 19 corruptions by family: each holdout corruption joins its ImageNet-C family.
HOLDOUT_FAMILIES: dict[str, tuple[str, ...]] = {
    "noise": ("speckle_noise",), "blur": ("gaussian_blur",), "weather": ("spatter",),
    "digital": ("saturate",),
}
ALL_FAMILIES: dict[str, tuple[str, ...]] = {f: names + HOLDOUT_FAMILIES[f] for f, names in FAMILIES.items()}


class Protocol(NamedTuple):
    """A named corruption grid: its corruptions (in report column order), severities, families, source."""

    name: str
    corruptions: tuple[str, ...]
    severities: tuple[int, ...]
    families: dict[str, tuple[str, ...]]
    source: str

    @property
    def cells(self) -> list[Cell]:
        """The corrupted cells the protocol's mean needs (the clean cell apart)."""
        return [Cell(c, s) for c in self.corruptions for s in self.severities]

    def record(self) -> dict:
        """What a results file stores: enough to tell two protocols apart without this module."""
        return {"name": self.name, "corruptions": list(self.corruptions), "severities": list(self.severities),
                "families": {f: list(names) for f, names in self.families.items()}, "source": self.source}


PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (
    Protocol("benchmark", BENCHMARK, SEVERITIES, FAMILIES,
             "Hendrycks & Dietterich 2019 (ImageNet-C): 15 corruptions x severities 1-5"),
    Protocol("fan-city-c", ALL_CORRUPTIONS, (1, 2, 3), ALL_FAMILIES,
             "the FAN authors' Cityscapes-C test script (Zhou et al. 2022): 19 corruptions x severities 1-3"),
    Protocol("city-c-16", tuple(c for names in CITY_C_FAMILIES.values() for c in names), (1, 2, 3),
             CITY_C_FAMILIES,
             "the Cityscapes-C table of Zhou et al. 2022 (SegFormer's 16 columns, Xie et al. 2021): "
             "16 corruptions, severities 1-3 as the authors' test script"),
)}


def resolve_protocol(name: str) -> Protocol:
    """A protocol by name; ``ValueError`` naming the known ones."""
    if name not in PROTOCOLS:
        raise ValueError(f"unknown protocol {name!r}; protocols: {', '.join(PROTOCOLS)}")
    return PROTOCOLS[name]


# ACDC (Sakaridis et al. 2021): four adverse conditions, labelled with Cityscapes' 19 train classes.
ACDC_CONDITIONS: tuple[str, ...] = ("fog", "night", "rain", "snow")
CITYSCAPES_NUM_CLASSES = 19
IGNORE_LABEL = 255  # the label value of pixels that are not scored (Cityscapes' trainId convention)

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
