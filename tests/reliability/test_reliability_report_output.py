"""What the report writes is safe and true to its inputs: names show as text (never run as HTML or turn
into links, never break the plots), a rerun leaves no stale figure, partial and skipped results carry
their labels wherever the model appears."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import markdown

from fan_det.report import write_report
from fan_det.report.__main__ import main

FIXTURES = Path(__file__).parents[1] / "report" / "fixtures"
HOSTILE = ('<script>alert("x")</script><img src=x onerror=alert(1)> [link](http://evil.example) '
           "`tick` $\\frac$")


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def write(path: Path, doc: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


def renamed(tmp_path: Path, name: str, model: str, **changes) -> Path:
    doc = fixture(name)
    doc["model"]["name"] = model
    doc.update(changes)
    return write(tmp_path / "in" / model.replace("/", "_")[:20] / name, doc)


def figures_of(out: Path) -> tuple[set[str], set[str]]:
    """PNG files in figures/ and the figures report.md links."""
    on_disk = {p.name for p in (out / "figures").glob("*.png")}
    linked = set(re.findall(r"\]\(figures/([^)]+\.png)\)", (out / "report.md").read_text()))
    return on_disk, linked


def test_hostile_names_show_as_text_in_markdown_and_html_and_plots_draw(tmp_path):
    det_doc = fixture("det_fan.json")
    det_doc["model"]["name"] = HOSTILE
    det_doc["dataset"]["name"] = "<b>set</b>"
    ood_doc = fixture("ood_effnet.json")
    ood_doc["model"]["name"] = "ood " + HOSTILE
    ood_doc["datasets"]["<i>odd</i>"] = ood_doc["datasets"]["imagenet-sketch"]
    det, ood = write(tmp_path / "det.json", det_doc), write(tmp_path / "ood.json", ood_doc)
    out = tmp_path / "out"
    assert main(["--detection", str(det), "--ood", str(ood), "--out", str(out), "--title", "<u>t</u>"]) == 0
    rendered = markdown.markdown((out / "report.md").read_text(), extensions=["tables"])
    page = (out / "report.html").read_text()
    for doc in (rendered, page):
        assert "<script" not in doc and "<img src=x" not in doc and "<b>set" not in doc
        assert "<i>odd" not in doc and "<u>t" not in doc and 'href="http://evil' not in doc
        assert html.escape('<script>alert("x")</script>', quote=False) in doc.replace("&quot;", '"')
    text = re.sub(r"<[^>]+>", "", rendered)  # what a reader of the rendered Markdown sees
    assert html.escape(HOSTILE, quote=False) in text.replace("&quot;", '"')
    on_disk, linked = figures_of(out)
    assert on_disk == linked and {"det-heatmap.png", "det-severity.png", "ood-bars.png"} <= on_disk


def test_a_rerun_into_the_same_folder_leaves_only_its_own_figures(tmp_path):
    out = tmp_path / "out"
    write_report([FIXTURES / "det_fan.json"], [FIXTURES / "ood_effnet.json"], out)
    first, _ = figures_of(out)
    assert {"det-heatmap.png", "det-severity.png"} <= first
    write_report([], [FIXTURES / "ood_effnet.json"], out)
    on_disk, linked = figures_of(out)
    assert on_disk == linked and not on_disk & {"det-heatmap.png", "det-severity.png"}


def md_rows_naming(md: str, name: str) -> list[str]:
    return [line for line in md.splitlines() if line.startswith("|") and name in line]


def test_skipped_images_and_partial_grids_are_labelled_in_every_row_and_not_ranked(tmp_path):
    skipped = fixture("ood_effnet.json")
    skipped["model"]["name"] = "skippy"
    skipped["datasets"]["imagenet-a"]["num_skipped"] = 2
    partial = fixture("ood_fan.json")
    partial["model"].update(name="halfc", random_init=False, checkpoint_sha256="2" * 64)
    metrics = partial["datasets"]["imagenet-c"]["metrics"]
    metrics["per_cell"] = {k: v for k, v in metrics["per_cell"].items() if k.startswith("fog/")}
    metrics["mean_acc_15"], metrics["mce"] = 99.0, 1.0  # better than any complete grid, yet not ranked
    complete = fixture("ood_fan.json")
    complete["model"].update(name="fullc", random_init=False, checkpoint_sha256="3" * 64)
    out = tmp_path / "out"
    write_report([], [write(tmp_path / n / "ood.json", d) for n, d in
                      (("s", skipped), ("p", partial), ("c", complete))], out)
    md = (out / "report.md").read_text()
    for name, label in (("skippy", r"\[2 imagenet-a images skipped\]"),
                        ("halfc", r"\[partial ImageNet-C: 5 of 75 cells\]")):
        rows = md_rows_naming(md, name)
        assert len(rows) >= 5 and all(f"{name} {label}" in r for r in rows), rows
        warning = md.split("Labelled results", 1)[1].split("\n", 1)[0]
        assert f"{name} {label}" in warning
    table = md.split("**ImageNet-C (1500 images)**", 1)[1].split("\n\n", 2)[1]
    half = next(r for r in table.splitlines() if r.startswith("| halfc"))
    full = next(r for r in table.splitlines() if r.startswith("| fullc"))
    assert "99.00" in half and "**" not in half and "**" not in full  # one complete grid: nothing to rank
