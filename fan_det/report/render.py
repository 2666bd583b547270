"""Render the report as Markdown (figures linked) and as one self-contained HTML page (figures inline).

Both walk the same ``layout`` and escape every string they print: names, paths and titles come from the
inputs and the command line, and must show as text, never run as HTML or turn into Markdown links. The
HTML page needs no script, stylesheet or image outside itself.
"""

from __future__ import annotations

import base64
import html
import re

from fan_det.report.layout import layout
from fan_det.report.tables import fmt_cell

BOLD = "**Bold**"  # the legend's one piece of markup, kept as markup by both renderers
MD_SPECIAL = re.compile(r"([\\`*_\[\]|#!])")


def md_escape(text: str) -> str:
    """Text shown as written in Markdown: HTML characters as entities, Markdown punctuation escaped."""
    text = html.escape(str(text), quote=False).replace("\n", " ")
    return MD_SPECIAL.sub(r"\\\1", text)


def md_code(text: str) -> str:
    """A code span holding ``text`` verbatim (its fence longer than any run of backticks inside); nothing
    for empty text, which as a span would show its two backticks."""
    text = text.replace("\n", " ")
    if not text:
        return ""
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _cells(r: dict) -> list[str]:
    return [fmt_cell(v, ci, tied) for v, ci, tied in zip(r["values"], r["intervals"], r["tied"], strict=True)]


def _md_table(t: dict) -> list[str]:
    lines = [f"**{md_escape(t['title'])}**", ""]
    header = [t["row_header"]] + [c["label"] for c in t["columns"]]
    lines.append("| " + " | ".join(md_escape(h) for h in header) + " |")
    lines.append("|" + "---|" * len(header))
    for r in t["rows"]:
        cells = [
            f"**{md_escape(c)}**" if best else md_escape(c)
            for c, best in zip(_cells(r), r["best"], strict=True)
        ]
        lines.append("| " + " | ".join([md_escape(r["label"])] + cells) + " |")
    if t["note"]:
        lines += ["", f"_{md_escape(t['note'])}_"]
    return lines + [""]


def _walk(report: dict, captions: dict[str, str], heading, blocks: dict) -> list[str]:
    """Each section's heading, then each block rendered by ``blocks[kind](content)``."""
    out = []
    for title, content_blocks in layout(report, captions):
        out += [heading(title)] if title else []
        out += [blocks[kind](content) for kind, content in content_blocks]
    return out


def _generated(report: dict, escape) -> str:
    date = report["provenance"]["report"].get("date")
    return f"Schema {escape(report['schema'])}; generated {escape(str(date))}."


def to_markdown(report: dict, figures: dict[str, tuple[str, str]]) -> str:
    """``figures`` maps figure ids to (caption, relative path of the PNG written beside report.md)."""
    e = md_escape

    def figure(fig_id: str) -> str:
        caption, path = figures[fig_id]
        return f"![{e(caption)}]({path})\n\n_{e(caption)}_\n"

    blocks = {
        "text": lambda c: e(c).replace(e(BOLD), BOLD) + "\n",
        "warning": lambda c: f"> **Note:** {e(c)}\n",
        "tables": lambda ts: "\n".join(line for t in ts for line in _md_table(t)),
        "figure": figure,
        "list": lambda items: "".join(f"- {e(item)}\n" for item in items),
        "kv": lambda kv: "".join(f"- {e(k)}: {md_code(v)}\n" for k, v in kv.items()),
    }
    head = [f"# {e(report['title'])}\n", _generated(report, e) + "\n"]
    body = _walk(report, {k: v[0] for k, v in figures.items()}, lambda h: f"## {e(h)}\n", blocks)
    return "\n".join(head + body)


CSS = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; border-bottom: 1px solid #ccc; margin-top: 2em; }
.row { display: flex; flex-wrap: wrap; gap: 1.2em; align-items: flex-start; }
.tablebox { max-width: 100%; overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.8em; margin: 0.4em 0; }
caption { font-weight: bold; text-align: left; padding: 0.2em 0; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.best { font-weight: bold; background: #e3f2e1; }
td.tied { background: #eef3fb; }
tr.published td { color: #555; font-style: italic; }
.warning { background: #fff4d6; border-left: 4px solid #e0a800; padding: 0.4em 0.8em; }
figure { margin: 1em 0; } figure img { max-width: 100%; }
code { font-size: 0.85em; word-break: break-all; }
"""


def _html_table(t: dict) -> str:
    e = html.escape
    parts = [
        f'<div class="tablebox"><table id="{e(t["id"])}"><caption>{e(t["title"])}</caption><thead><tr>',
        f"<th>{e(t['row_header'])}</th>",
    ]
    parts += [f"<th>{e(c['label'])}</th>" for c in t["columns"]]
    parts.append("</tr></thead><tbody>")
    for r in t["rows"]:
        parts.append(f'<tr class="{e(r["kind"])}"><th scope="row">{e(r["label"])}</th>')
        for text, best, tied in zip(_cells(r), r["best"], r["tied"], strict=True):
            cls = "num best" if best else "num tied" if tied else "num"
            parts.append(f'<td class="{cls}">{e(text)}</td>')
        parts.append("</tr>")
    parts.append("</tbody></table>")
    if t["note"]:
        parts.append(f"<p><em>{e(t['note'])}</em></p>")
    return "".join(parts) + "</div>"


def to_html(report: dict, figures: dict[str, tuple[str, bytes]]) -> str:
    """``figures`` maps figure ids to (caption, PNG bytes), embedded as base64 data URIs."""
    e = html.escape

    def figure(fig_id: str) -> str:
        caption, png = figures[fig_id]
        data = base64.b64encode(png).decode("ascii")
        return (f'<figure><img id="{e(fig_id)}" alt="{e(caption)}" src="data:image/png;base64,{data}">'
                f"<figcaption>{e(caption)}</figcaption></figure>")

    blocks = {
        "text": lambda c: f"<p>{e(c).replace(BOLD, '<b>Bold</b>')}</p>",
        "warning": lambda c: f'<p class="warning">{e(c)}</p>',
        "tables": lambda ts: '<div class="row">' + "".join(_html_table(t) for t in ts) + "</div>",
        "figure": figure,
        "list": lambda items: "<ul>" + "".join(f"<li>{e(item)}</li>" for item in items) + "</ul>",
        "kv": lambda kv: '<table class="kv"><tbody>'
        + "".join(f"<tr><th>{e(k)}</th><td><code>{e(v)}</code></td></tr>" for k, v in kv.items())
        + "</tbody></table>",
    }
    head = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<link rel="icon" href="data:,">',
        f"<title>{e(report['title'])}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{e(report['title'])}</h1>",
        f"<p>{_generated(report, e)}</p>",
    ]
    body = _walk(report, {k: v[0] for k, v in figures.items()}, lambda h: f"<h2>{e(h)}</h2>", blocks)
    return "\n".join(head + body + ["</body></html>"])
