"""The renderers on a hand-made layout: every block kind, escaping, numbers and markers, written out by hand.

``layout`` is replaced by a fixed list of sections so that each expected Markdown and HTML line below is
the whole output, not a fragment a changed renderer could still contain.
"""

from __future__ import annotations

import re

import pytest

from fan_det.report import render
from fan_det.report.render import md_code, md_escape, to_html, to_markdown

REPORT = {"title": "R <1> & *x*", "schema": "fan_det.report/1",
          "provenance": {"report": {"date": "2026-12-07"}}}


def table_a() -> dict:
    """Two tied rows of ours (AP with intervals), the best count, a published row of a missing value."""
    return {
        "id": "t<1>", "title": "T_1", "row_header": "model", "note": "n_b",
        "columns": [{"label": "AP"}, {"label": "n"}],
        "rows": [
            {"label": "a*", "kind": "ours", "values": [41.234, 7], "intervals": [[40.0, 42.5], None],
             "tied": [True, False], "best": [False, True]},
            {"label": "c", "kind": "ours", "values": [40.5, 2], "intervals": [[39.0, 41.9], None],
             "tied": [True, False], "best": [False, False]},
            {"label": "b", "kind": "published", "values": [None, 3], "intervals": [None, None],
             "tied": [False, False], "best": [False, False]},
        ],
    }


def table_b() -> dict:
    return {"id": "t2", "title": "T2", "row_header": "dataset", "note": "",
            "columns": [{"label": "x|y"}],
            "rows": [{"label": "r", "kind": "ours", "values": [2.0], "intervals": [None], "tied": [False],
                      "best": [False]}]}


@pytest.fixture
def fake_layout(monkeypatch) -> dict:
    """Replace the layout by one section without and one with a heading; records the captions given."""
    seen = {}

    def sections(report, captions):
        seen["report"], seen["captions"] = report, captions
        return [
            ("", [("text", "Legend: **Bold** is best_of <all>")]),
            ("Sec [1]", [("warning", "w|1 <i>"), ("tables", [table_a(), table_b()]), ("figure", "fig-a"),
                         ("list", ["a_b", "<c>"]), ("kv", {"k*": "v`x", "path": "/a b"})]),
        ]

    monkeypatch.setattr(render, "layout", sections)
    return seen


MARKDOWN = [
    "# R &lt;1&gt; &amp; \\*x\\*\n",
    "Schema fan\\_det.report/1; generated 2026-12-07.\n",
    "Legend: **Bold** is best\\_of &lt;all&gt;\n",
    "## Sec \\[1\\]\n",
    "> **Note:** w\\|1 &lt;i&gt;\n",
    "**T\\_1**\n"
    "\n"
    "| model | AP | n |\n"
    "|---|---|---|\n"
    "| a\\* | 41.23 \\[40.00, 42.50\\] (tied) | **7** |\n"
    "| c | 40.50 \\[39.00, 41.90\\] (tied) | 2 |\n"
    "| b | n/a | 3 |\n"
    "\n"
    "_n\\_b_\n"
    "\n"
    "**T2**\n"
    "\n"
    "| dataset | x\\|y |\n"
    "|---|---|\n"
    "| r | 2.00 |\n",
    "![Cap &lt;b&gt;\\_](figures/fig-a.png)\n\n_Cap &lt;b&gt;\\__\n",
    "- a\\_b\n- &lt;c&gt;\n",
    "- k\\*: ``v`x``\n- path: `/a b`\n",
]


def test_markdown_of_every_block_kind_is_escaped_and_in_order(fake_layout):
    md = to_markdown(REPORT, {"fig-a": ("Cap <b>_", "figures/fig-a.png")})
    assert md == "\n".join(MARKDOWN)
    assert fake_layout["report"] is REPORT
    assert fake_layout["captions"] == {"fig-a": "Cap <b>_"}


HTML_TABLE_A = (
    '<div class="tablebox"><table id="t&lt;1&gt;"><caption>T_1</caption><thead><tr>'
    "<th>model</th><th>AP</th><th>n</th></tr></thead><tbody>"
    '<tr class="ours"><th scope="row">a*</th><td class="num tied">41.23 [40.00, 42.50] (tied)</td>'
    '<td class="num best">7</td></tr>'
    '<tr class="ours"><th scope="row">c</th><td class="num tied">40.50 [39.00, 41.90] (tied)</td>'
    '<td class="num">2</td></tr>'
    '<tr class="published"><th scope="row">b</th><td class="num">n/a</td><td class="num">3</td></tr>'
    "</tbody></table><p><em>n_b</em></p></div>"
)
HTML_TABLE_B = (
    '<div class="tablebox"><table id="t2"><caption>T2</caption><thead><tr>'
    "<th>dataset</th><th>x|y</th></tr></thead><tbody>"
    '<tr class="ours"><th scope="row">r</th><td class="num">2.00</td></tr>'
    "</tbody></table></div>"
)
HTML_BODY = [
    "<h1>R &lt;1&gt; &amp; *x*</h1>",
    "<p>Schema fan_det.report/1; generated 2026-12-07.</p>",
    "<p>Legend: <b>Bold</b> is best_of &lt;all&gt;</p>",
    "<h2>Sec [1]</h2>",
    '<p class="warning">w|1 &lt;i&gt;</p>',
    '<div class="row">' + HTML_TABLE_A + HTML_TABLE_B + "</div>",
    '<figure><img id="fig-a" alt="Cap &lt;b&gt;_" src="data:image/png;base64,iVBORw0K">'
    "<figcaption>Cap &lt;b&gt;_</figcaption></figure>",
    "<ul><li>a_b</li><li>&lt;c&gt;</li></ul>",
    '<table class="kv"><tbody><tr><th>k*</th><td><code>v`x</code></td></tr>'
    "<tr><th>path</th><td><code>/a b</code></td></tr></tbody></table>",
    "</body></html>",
]


def test_html_of_every_block_kind_is_escaped_and_in_order(fake_layout):
    page = to_html(REPORT, {"fig-a": ("Cap <b>_", b"\x89PNG\r\n")})
    head, style, body = re.fullmatch(r"(.*?)<style>(.*?)</style>(.*)", page, re.S).groups()
    assert head.split("\n") == [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<link rel="icon" href="data:,">',
        "<title>R &lt;1&gt; &amp; *x*</title>",
        "",
    ]
    assert body.split("\n") == ["</head><body>", *HTML_BODY]
    assert fake_layout["report"] is REPORT
    assert fake_layout["captions"] == {"fig-a": "Cap <b>_"}


def test_every_style_rule_applies_to_something_the_page_has(fake_layout):
    """Each selector of the page's stylesheet names an element or class the renderer writes, and the best
    values are bold, as the legend promises."""
    page = to_html(REPORT, {"fig-a": ("Cap", b"png")})
    style = re.search(r"<style>(.*?)</style>", page, re.S).group(1)
    rules = {sel.strip(): body for sel, body in re.findall(r"([^{}]+)\{([^}]*)\}", style)}
    assert "font-weight: bold" in rules["td.best"]
    for selectors in rules:
        for selector in selectors.split(","):
            for part in selector.split():
                tag, _, cls = part.partition(".")
                assert tag == "" or f"<{tag}" in page, part
                assert cls == "" or re.search(rf'class="[^"]*\b{cls}\b', page), part


@pytest.mark.parametrize(("text", "shown"), [
    ("plain", "plain"),
    ("a<b>&c\nd", "a&lt;b&gt;&amp;c d"),
    ('"q"', '"q"'),
    ("\\`*_[x](y)|#!", "\\\\\\`\\*\\_\\[x\\](y)\\|\\#\\!"),
    (3, "3"),
])
def test_md_escape_shows_text_as_written(text, shown):
    assert md_escape(text) == shown


@pytest.mark.parametrize(("text", "span"), [
    ("a b", "`a b`"),
    ("v`x", "``v`x``"),
    ("a``b`c", "```a``b`c```"),
    ("`a", "`` `a ``"),
    ("a`", "`` a` ``"),
    ("two\nlines", "`two lines`"),
    ("", ""),
    (" ", "` `"),
])
def test_md_code_fences_longer_than_any_backtick_run(text, span):
    assert md_code(text) == span


@pytest.mark.parametrize("missing", [("intervals",), ("tied",), ("best",), ("intervals", "tied", "best")])
def test_a_row_of_fewer_flags_than_values_is_an_error_not_a_shorter_row(missing):
    """Each cell needs its interval, tie and best flags: a row missing some is refused, never cut short."""
    t = table_b()
    t["columns"].append({"label": "z"})
    t["rows"][0]["values"].append(1.0)
    for key, flag in {"intervals": None, "tied": False, "best": False}.items():
        if key not in missing:
            t["rows"][0][key].append(flag)
    for renderer in (render._md_table, render._html_table):
        with pytest.raises(ValueError):
            renderer(t)
