"""A table as the report stores and renders it: columns with a direction, rows with labels, best marked.

Tables are plain dicts so that ``report.json`` holds exactly what ``report.md`` and ``report.html`` show.
"""

from __future__ import annotations

LOWER_IS_BETTER = {"calibration_error", "mce", "relative_mce", "gap", "imagenet-c/mce", "imagenet/error"}


def column(
    key: str, label: str | None = None, better: str | None = "higher", complete_only: bool = False
) -> dict:
    """``better`` is "higher", "lower" or None (not ranked); ``complete_only`` ranks complete rows only."""
    if better == "higher" and key.rpartition(".")[2] in LOWER_IS_BETTER:
        better = "lower"
    return {"key": key, "label": label or key, "better": better, "complete_only": complete_only}


def row(label: str, values: list, partial: bool = False, kind: str = "ours", ranked: bool = True) -> dict:
    """``kind`` is "ours" or "published"; only rows of ours are ranked, and of those only ``ranked`` ones
    (a randomly initialised model's figures are shown, labelled, but never marked best)."""
    return {"label": label, "values": values, "partial": partial, "kind": kind, "ranked": ranked}


def table(
    table_id: str,
    title: str,
    columns: list[dict],
    rows: list[dict],
    note: str = "",
    section: str = "main",
    row_header: str = "model",
) -> dict:
    """Build a table and mark the best value of each ranked column (needs two or more candidates)."""
    for r in rows:
        r["best"] = [False] * len(columns)
    for j, col in enumerate(columns):
        if col["better"] is None:
            continue
        candidates = [
            (i, r["values"][j])
            for i, r in enumerate(rows)
            if r["kind"] == "ours"
            and r["ranked"]
            and isinstance(r["values"][j], int | float)
            and not isinstance(r["values"][j], bool)
            and not (col["complete_only"] and r["partial"])
        ]
        if len(candidates) < 2:
            continue
        pick = max if col["better"] == "higher" else min
        best = pick(v for _, v in candidates)
        for i, v in candidates:
            rows[i]["best"][j] = v == best
    return {
        "id": table_id,
        "title": title,
        "note": note,
        "section": section,
        "row_header": row_header,
        "columns": columns,
        "rows": rows,
    }


def fmt(value: object) -> str:
    """How every number is printed: integers as they are, other numbers with two decimals."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)
