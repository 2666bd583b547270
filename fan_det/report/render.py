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
    """A code span holding ``text`` verbatim (its fence longer than any run of backticks inside)."""
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


def to_markdown(report: dict, figures: dict[str, tuple[str, str]]) -> str:
    """``figures`` maps figure ids to (caption, relative path of the PNG written beside report.md)."""
    e = md_escape
    lines = [
        f"# {e(report['title'])}",
        "",
        f"Schema {e(report['schema'])}; generated {e(report['provenance']['report'].get('date'))}.",
        "",
    ]
    for heading, blocks in layout(report, {k: v[0] for k, v in figures.items()}):
        if heading:
            lines += [f"## {e(heading)}", ""]
        for kind, content in blocks:
            if kind == "text":
                lines += [e(content).replace(e(BOLD), BOLD), ""]
            elif kind == "warning":
                lines += [f"> **Note:** {e(content)}", ""]
            elif kind == "tables":
                for t in content:
                    lines += _md_table(t)
            elif kind == "figure":
                caption, path = figures[content]
                lines += [f"![{e(caption)}]({path})", "", f"_{e(caption)}_", ""]
            elif kind == "list":
                lines += [f"- {e(item)}" for item in content] + [""]
            elif kind == "kv":
                lines += [f"- {e(k)}: {md_code(v)}" for k, v in content.items()] + [""]
    return "\n".join(lines)


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
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<link rel="icon" href="data:,">',
        f"<title>{e(report['title'])}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{e(report['title'])}</h1>",
        f"<p>Schema {e(report['schema'])}; generated {e(str(report['provenance']['report'].get('date')))}.",
        "</p>",
    ]
    for heading, blocks in layout(report, {k: v[0] for k, v in figures.items()}):
        if heading:
            out.append(f"<h2>{e(heading)}</h2>")
        for kind, content in blocks:
            if kind == "text":
                out.append(f"<p>{e(content).replace(BOLD, '<b>Bold</b>')}</p>")
            elif kind == "warning":
                out.append(f'<p class="warning">{e(content)}</p>')
            elif kind == "tables":
                out.append('<div class="row">' + "".join(_html_table(t) for t in content) + "</div>")
            elif kind == "figure":
                caption, png = figures[content]
                data = base64.b64encode(png).decode("ascii")
                out.append(
                    f'<figure><img id="{e(content)}" alt="{e(caption)}" src="data:image/png;base64,{data}">'
                    f"<figcaption>{e(caption)}</figcaption></figure>"
                )
            elif kind == "list":
                out.append("<ul>" + "".join(f"<li>{e(item)}</li>" for item in content) + "</ul>")
            elif kind == "kv":
                out.append(
                    '<table class="kv"><tbody>'
                    + "".join(
                        f"<tr><th>{e(k)}</th><td><code>{e(v)}</code></td></tr>" for k, v in content.items()
                    )
                    + "</tbody></table>"
                )
    out.append("</body></html>")
    return "\n".join(out)
