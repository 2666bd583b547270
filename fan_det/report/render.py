"""Render the report model as Markdown (figures linked) and as one self-contained HTML page (figures inline).

Both walk the same ``layout``; the HTML page needs no script, stylesheet or image outside itself.
"""

from __future__ import annotations

import base64
import html

from fan_det.report.layout import layout
from fan_det.report.tables import fmt


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(t: dict) -> list[str]:
    lines = [f"**{t['title']}**", ""]
    header = [t["row_header"]] + [c["label"] for c in t["columns"]]
    lines.append("| " + " | ".join(_md_cell(h) for h in header) + " |")
    lines.append("|" + "---|" * len(header))
    for r in t["rows"]:
        cells = [f"**{fmt(v)}**" if best else fmt(v) for v, best in zip(r["values"], r["best"], strict=True)]
        lines.append("| " + " | ".join(_md_cell(x) for x in [r["label"]] + cells) + " |")
    if t["note"]:
        lines += ["", f"_{t['note']}_"]
    return lines + [""]


def to_markdown(report: dict, figures: dict[str, tuple[str, str]]) -> str:
    """``figures`` maps figure ids to (caption, relative path of the PNG written beside report.md)."""
    lines = [
        f"# {report['title']}",
        "",
        f"Schema {report['schema']}; generated {report['provenance']['report'].get('date')}.",
        "",
    ]
    for heading, blocks in layout(report, {k: v[0] for k, v in figures.items()}):
        if heading:
            lines += [f"## {heading}", ""]
        for kind, content in blocks:
            if kind == "text":
                lines += [content, ""]
            elif kind == "warning":
                lines += [f"> **Note:** {content}", ""]
            elif kind == "tables":
                for t in content:
                    lines += _md_table(t)
            elif kind == "figure":
                caption, path = figures[content]
                lines += [f"![{caption}]({path})", "", f"_{caption}_", ""]
            elif kind == "list":
                lines += [f"- {item}" for item in content] + [""]
            elif kind == "kv":
                lines += [f"- {k}: `{v}`" for k, v in content.items()] + [""]
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
        for v, best in zip(r["values"], r["best"], strict=True):
            cls = "num best" if best else "num"
            parts.append(f'<td class="{cls}">{e(fmt(v))}</td>')
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
                out.append(f"<p>{e(content).replace('**Bold**', '<b>Bold</b>')}</p>")
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
