"""Corruption names, the sets users ask for by name, and severity parsing.

The names and their order are those of ``imagecorruptions`` (Hendrycks & Dietterich, ICLR 2019; Michaelis
et al., 2019): 15 benchmark corruptions in four families, plus 4 held-out ones that are reported
separately and never mixed into mPC or mCE.
"""

from __future__ import annotations

BENCHMARK = (
    "gaussian_noise", "shot_noise", "impulse_noise",
    "defocus_blur", "glass_blur", "motion_blur", "zoom_blur",
    "snow", "frost", "fog", "brightness",
    "contrast", "elastic_transform", "pixelate", "jpeg_compression",
)
HOLDOUT = ("speckle_noise", "gaussian_blur", "spatter", "saturate")

CORRUPTION_SETS: dict[str, tuple[str, ...]] = {
    "benchmark": BENCHMARK,
    "noise": BENCHMARK[0:3],
    "blur": BENCHMARK[3:7],
    "weather": BENCHMARK[7:11],
    "digital": BENCHMARK[11:15],
    "holdout": HOLDOUT,
    "all": BENCHMARK + HOLDOUT,
}
ALL_CORRUPTIONS = CORRUPTION_SETS["all"]
SEVERITIES = (1, 2, 3, 4, 5)
CLEAN = "clean"


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
    """``"1-5"``, ``"1,3"`` or ``"2"`` to sorted unique severities in 1..5 (0, clean, is no cell to build)."""
    values: set[int] = set()
    try:
        for part in (p.strip() for p in spec.split(",") if p.strip()):
            lo, _, hi = part.partition("-")
            values.update(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        raise ValueError(f"bad severities {spec!r}: expected a range like 1-5 or a list like 1,3") from None
    if not values or not values <= set(SEVERITIES):
        raise ValueError(f"bad severities {spec!r}: each must be in 1..5")
    return tuple(sorted(values))
