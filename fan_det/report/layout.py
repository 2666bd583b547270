"""The order of the report's content, shared by the Markdown and HTML renderers.

``layout(report)`` yields sections of blocks: ("text", str), ("warning", str), ("tables", [table, ...])
(side by side where the medium allows), ("figure", figure id), ("list", [str, ...]), ("kv", {key: value}).
After the legend and the headline come the registered sections' own (``Section.layout``), then the
published numbers, the provenance and the appendix.
"""

from __future__ import annotations

from fan_det.report import registry
from fan_det.report.sections.common import key_values

LEGEND = (
    "All numbers are on the 0-100 scale (rPC and retention in percent); [lo, hi] is the 95% interval the "
    "evaluation wrote beside a number (Wilson score for accuracies), n/a a figure not measured. **Bold** "
    "marks the best of our results in each column (lower is better for mCE, relative mCE, calibration "
    "error and the IN-R gap; mPC, rPC and ImageNet-C figures rank complete grids only); where the best "
    "value's interval overlaps another's, none is best and the overlapping ones are marked (tied). "
    "Published numbers are never ranked."
)


def layout(report: dict, figures: dict[str, str]) -> list[tuple[str, list[tuple[str, object]]]]:
    """Sections ``(heading, blocks)``; ``figures`` maps figure ids to captions (only those drawn)."""
    intro: list[tuple[str, object]] = [("text", LEGEND)]
    if report["labelled_results"]:
        intro.append(("warning", "Labelled results (random weights are not a trained model; partial results "
                                 "cover only the cells named): " + "; ".join(report["labelled_results"])))
    sections = [("", intro), ("At a glance: one row per backbone", [("tables", [report["headline"]])])]
    for section in registry.SECTIONS:
        sections += section.layout(report, figures)

    blocks: list[tuple[str, object]] = []
    for t in report["references"]:
        blocks.append(("tables", [t]))
        blocks.append(("text", f"Source: {t['source']}"))
        blocks.append(("list", t["protocol_differences"]))
    sections.append(("Published numbers beside ours", blocks))

    prov = report["provenance"]
    blocks = [("text", "This report"), ("kv", key_values(prov["report"]))]
    for entry in prov["inputs"]:
        blocks.append(("text", f"Input: {entry['model']} ({entry['kind']}, {entry['file']})"))
        blocks.append(("kv", key_values(entry)))
    sections.append(("Provenance", blocks))

    appendix = [t for s in registry.SECTIONS for t in report[s.key]["tables"] if t["section"] == "appendix"]
    if appendix:
        sections.append(("Appendix: every number", [("tables", [t]) for t in appendix]))
    return sections
