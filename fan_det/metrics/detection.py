"""Object detection under natural shift: COCO-O's per-domain stats and their mean.

Corruption grids (COCO-C's P, mPC, rPC) are task-general: ``fan_det.metrics.corruption``.
"""

from __future__ import annotations

from collections.abc import Mapping
from statistics import fmean

from fan_det.protocol import COCO_O_DOMAINS


def coco_o_summary(domains: Mapping[str, Mapping[str, float]]) -> dict:
    """COCO-O (Mao et al. 2023, section 3): per-domain COCO stats and, for every stat, their mean over the
    domains given. The mean over all six domains is COCO-O's headline; fewer domains are marked partial."""
    if not domains:
        raise ValueError("no COCO-O domain given")
    unknown = sorted(set(domains) - set(COCO_O_DOMAINS))
    if unknown:
        raise ValueError(f"unknown COCO-O domain(s) {unknown}; domains: {', '.join(COCO_O_DOMAINS)}")
    names = list(next(iter(domains.values())))
    for domain, stats in domains.items():
        if set(stats) != set(names):
            raise ValueError(f"domain {domain} has stats {sorted(stats)}, others {sorted(names)}")
    ordered = [d for d in COCO_O_DOMAINS if d in domains]
    return {"partial": len(ordered) < len(COCO_O_DOMAINS),
            "missing": [d for d in COCO_O_DOMAINS if d not in domains],
            "stats": {name: {"mean": fmean(domains[d][name] for d in ordered),
                             "per_domain": {d: domains[d][name] for d in ordered}} for name in names}}
