"""A table as the report stores and renders it: columns with a direction, rows with labels, best marked.

Tables are plain dicts so that ``report.json`` holds exactly what ``report.md`` and ``report.html`` show.
A value may carry its 95% interval; where the best value's interval overlaps another ranked value's,
no value is marked best: the overlapping ones are marked tied.
"""

from __future__ import annotations

LOWER_IS_BETTER = {"calibration_error", "mce", "relative_mce", "gap", "imagenet-c/mce", "imagenet/error"}


def column(
    key: str, label: str | None = None, better: str | None = "higher", complete_only: bool = False
) -> dict:
    """``better`` is "higher", "lower" or None (not ranked); ``complete_only`` ranks complete rows only."""
    if better == "higher" and key.rpartition(".")[2].rpartition("/")[2] in LOWER_IS_BETTER:
        better = "lower"
    return {"key": key, "label": label or key, "better": better, "complete_only": complete_only}


def row(
    label: str,
    values: list,
    partial: bool = False,
    kind: str = "ours",
    ranked: bool = True,
    intervals: list | None = None,
) -> dict:
    """``kind`` is "ours" or "published"; only rows of ours are ranked, and of those only ``ranked`` ones
    (a randomly initialised model's figures are shown, labelled, but never marked best).
    ``intervals``: one ``[lo, hi]`` or None per value; ``partial`` and ``ranked``: for the whole row, or one
    flag per value (a row joining several models)."""
    return {
        "label": label,
        "values": values,
        "intervals": intervals or [None] * len(values),
        "partial": partial,
        "kind": kind,
        "ranked": ranked,
    }


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _at(flag: bool | list[bool], j: int) -> bool:
    return flag[j] if isinstance(flag, list) else flag


def _overlap(a: list | None, b: list | None) -> bool:
    return a is not None and b is not None and a[0] <= b[1] and b[0] <= a[1]


def _mark(rows: list[dict], j: int, col: dict) -> None:
    candidates = [
        i
        for i, r in enumerate(rows)
        if r["kind"] == "ours"
        and _at(r["ranked"], j)
        and _is_number(r["values"][j])
        and not (col["complete_only"] and _at(r["partial"], j))
    ]
    if len(candidates) < 2:
        return
    pick = max if col["better"] == "higher" else min
    best = pick(candidates, key=lambda i: rows[i]["values"][j])
    value, interval = rows[best]["values"][j], rows[best]["intervals"][j]
    tied = [i for i in candidates if i != best and _overlap(interval, rows[i]["intervals"][j])]
    if tied:
        for i in [best, *tied]:
            rows[i]["tied"][j] = True
        return
    for i in candidates:
        rows[i]["best"][j] = rows[i]["values"][j] == value


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
        r["tied"] = [False] * len(columns)
    for j, col in enumerate(columns):
        if col["better"] is not None:
            _mark(rows, j, col)
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
        return "n/a"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def fmt_cell(value: object, interval: list | None, tied: bool) -> str:
    """A table cell's text: the value, its interval ``[lo, hi]`` where given, and ``(tied)``."""
    text = fmt(value)
    if interval is not None and value is not None:
        text += f" [{fmt(float(interval[0]))}, {fmt(float(interval[1]))}]"
    return text + (" (tied)" if tied else "")
