"""The report holds every input number (report.json and report.md), ranks fairly and labels what it must."""

from __future__ import annotations

import json
import re

from report_fixtures import DETECTION, OOD, load_fixture, md_tables, read_md, shown

from fan_det.report.tables import column, row, table


def numbers(obj, path=()):
    """Every numeric leaf of a JSON document with its path (booleans are not numbers here)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from numbers(v, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from numbers(v, path + (i,))
    elif isinstance(obj, int | float) and not isinstance(obj, bool):
        yield path, obj


def dig(obj, path):
    for key in path:
        obj = obj[key]
    return obj


def cell(tables: dict, title: str, label: str, col: str) -> str:
    """The displayed text of one table cell, bold markers removed."""
    return tables[title][label][col].removeprefix("**").removesuffix("**")


def detection_place(path: tuple, entry: dict) -> tuple[str, str, str] | None:
    """Where report.md must print a ``summary`` number: (table title, row label, column label)."""
    name = entry["display"]
    if path[0] == "stats":
        stat, part = path[1], path[2]
        if part in ("P", "mPC", "rPC"):
            title = f"{stat}: clean (P), mean under corruption (mPC), retention (rPC, %)"
            return title, name, {"rPC": "rPC (%)"}.get(part, part)
        if part == "per_corruption":
            return f"{stat} per corruption (mean over severities)", name, path[3]
        family_severity = f"{stat} per family and per severity"
        return family_severity, name, path[3] if part == "per_family" else f"sev {path[3]}"
    if path[0] == "holdout":
        title = f"{path[1]} on the holdout corruptions (not part of mPC)"
        return title, name, path[3] if path[2] == "per_corruption" else {"mPC": "holdout mPC",
                                                                          "rPC": "holdout rPC (%)"}[path[2]]
    return None  # cells_used / missing: severities, checked through the cells table and the warning


def test_every_detection_number_is_in_json_and_in_its_md_row_and_column(built_report):
    report = json.loads(built_report["json"].read_text())
    md = read_md(built_report)
    tables = md_tables(built_report["md"].read_text())
    assert report["schema"] == "fan_det.report/1"
    models = {m["name"]: m for m in report["detection"]["models"]}
    checked = 0
    for name in DETECTION:
        doc = load_fixture(name)
        entry = models[doc["model"]["name"]]
        for part in ("cells", "summary", "dataset", "protocol"):
            for path, value in numbers(doc[part]):
                if part == "protocol" and path[0] == "severities":
                    continue
                assert dig(entry[part], path) == value, (name, part, path)
                checked += 1
        for path, value in numbers(doc["summary"]):
            place = detection_place(path, entry)
            if place is not None:
                assert cell(tables, *place) == shown(value), (name, path, place)
        every_cell = tables[f"Every evaluated cell: {entry['display']}"]
        for c in doc["cells"]:
            row_cells = every_cell[f"{c['corruption']} / {c['severity']}"]
            assert row_cells["images"] == shown(c["num_images"])
            assert row_cells["seconds"] == shown(c["seconds"])
            for task, stats in c["stats"].items():
                for stat, value in stats.items():
                    assert row_cells[stat if task == "bbox" else f"{task}/{stat}"] == shown(value)
        for corruption, severity in doc["summary"]["missing"]:
            assert f"{corruption}/{severity}" in md.split(f"{entry['display']}: cells not evaluated:", 1)[1]
        assert f"- dataset.num_images: `{doc['dataset']['num_images']}`" in md
        assert f"- protocol.seed: `{doc['protocol']['seed']}`" in md
    assert checked > 1500


def test_every_ood_number_is_in_json_and_in_its_md_row_and_column(built_report):
    report = json.loads(built_report["json"].read_text())
    md = read_md(built_report)
    tables = md_tables(built_report["md"].read_text())
    models = {m["name"]: m for m in report["ood"]["models"]}
    titles = {"imagenet": "ImageNet val", "imagenet-a": "ImageNet-A", "imagenet-r": "ImageNet-R",
              "imagenet-sketch": "ImageNet-Sketch", "imagenet-c": "ImageNet-C", "imagenet-v2": "ImageNetV2"}
    checked = 0
    for name in OOD:
        doc = load_fixture(name)
        entry = models[doc["model"]["name"]]
        label = entry["display"]
        for path, value in numbers(doc["datasets"]):
            assert dig(entry["datasets"], path) == value, (name, path)
            checked += 1
        for dataset, block in doc["datasets"].items():
            title, metrics = titles[dataset], block["metrics"]
            row_cells = tables[f"{title} ({block['num_images']} images)"][label]
            for key, value in metrics.items():
                if isinstance(value, int | float):
                    assert cell(tables, f"{title} ({block['num_images']} images)", label, key) == shown(
                        value, metrics.get(f"{key}_ci")), (name, dataset, key)
                    checked += 1
            for key in ("num_skipped", "classes_present"):
                assert row_cells[key.replace("_", " ")] == shown(block[key])
            for corruption, value in metrics.get("per_corruption", {}).items():
                assert cell(tables, f"{title} top-1 per corruption (mean over severities)", label,
                            corruption) == shown(value)
            for key, value in metrics.get("per_cell", {}).items():
                corruption, severity = key.split("/")
                assert tables[f"{title} top-1 per cell: {label}"][corruption][f"sev {severity}"] == shown(
                    value, metrics["per_cell_ci"][key])
        assert f"- num_params: `{doc['model']['num_params']}`" in md
        if doc["model"]["checkpoint_sha256"]:
            assert f"- checkpoint_sha256: `{doc['model']['checkpoint_sha256']}`" in md
    assert checked > 90


def test_provenance_is_in_md(built_report):
    md = read_md(built_report)
    for name in DETECTION:
        doc = load_fixture(name)
        for key in ("config_sha256", "weights_sha256", "config", "weights"):
            assert doc["model"][key] in md
        assert doc["provenance"]["command"] in md
    for name in OOD:
        doc = load_fixture(name)
        assert doc["provenance"]["command"] in md
        for block in doc["datasets"].values():
            assert block["path"] in md
    assert "- command: `pytest`" in md


def md_row(md: str, title: str, label: str) -> list[str]:
    """The cells of the row ``label`` in the table whose bold title is ``title``."""
    section = md.split(f"**{title}**", 1)[1].split("\n\n", 2)[1]
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0] == label:
            return cells[1:]
    raise AssertionError(f"no row {label!r} in {title!r}")


def test_best_per_column_is_marked_and_partial_rows_do_not_win_mpc(built_report):
    md = read_md(built_report)
    fan, base, part = (load_fixture(n)["summary"]["stats"]["AP"] for n in DETECTION)
    title = "AP: clean (P), mean under corruption (mPC), retention (rPC, %)"
    fan_row = md_row(md, title, "fan_tiny_8_p4_hybrid retinanet")
    base_row = md_row(md, title, "resnet50 retinanet")
    part_row = md_row(md, title, "fan_small_12_p4_hybrid retinanet [random weights] [partial: 9 of 75 cells]")
    complete = {"fan": fan, "base": base}
    for col, key in enumerate(("P", "mPC", "rPC")):
        winner = max(complete, key=lambda k: complete[k][key])
        rows = {"fan": fan_row, "base": base_row}
        assert rows[winner][col] == f"**{complete[winner][key]:.2f}**"
        loser = "base" if winner == "fan" else "fan"
        assert rows[loser][col] == f"{complete[loser][key]:.2f}"
    # the partial model's rPC is higher than both complete ones, yet it is not marked: its grid differs
    assert part["rPC"] > max(fan["rPC"], base["rPC"])
    assert part_row[2] == f"{part['rPC']:.2f}"
    # a randomly initialised model is shown but never marked best (see the unit test below)
    cal = {n: load_fixture(n)["datasets"]["imagenet-a"]["metrics"]["calibration_error"] for n in OOD}
    random_row = md_row(md, "ImageNet-A (6 images)", load_fixture("ood_fan.json")["model"]["name"]
                        + " [random weights]")
    assert f"{cal['ood_fan.json']:.2f}" in random_row and not any("**" in c for c in random_row)


def test_lower_is_better_columns_and_unranked_rows():
    rows = [row("a", [5.0, 50.0]), row("b", [3.0, 40.0]), row("random", [1.0, 90.0], ranked=False),
            row("published", [0.5, 99.0], kind="published")]
    marked = table("t", "t", [column("calibration_error"), column("top1")], rows)
    best = [r["best"] for r in marked["rows"]]
    assert best == [[False, True], [True, False], [False, False], [False, False]]


def test_partial_and_random_results_are_labelled_wherever_they_appear(built_report):
    md = read_md(built_report)
    report = json.loads(built_report["json"].read_text())
    labels = {"fan_small_12_p4_hybrid retinanet": "[random weights] [partial: 9 of 75 cells]",
              "fan_tiny_8_p4_hybrid": "[random weights]"}
    for name, label in labels.items():
        pattern = re.compile(rf"\b{name}\b(?! retinanet)")
        rows = [line for line in md.splitlines() if line.startswith("|") and pattern.search(line)]
        assert rows, name
        for line in rows:
            assert f"{name} {label}" in line, line
        assert any(label.strip("[]").split("] [")[0] in entry for entry in report["labelled_results"])
    missing = load_fixture("det_partial.json")["summary"]["missing"]
    assert f"{missing[0][0]}/{missing[0][1]}" in md
    assert "cells not evaluated" in md


def test_published_numbers_sit_beside_ours_with_protocol_differences(built_report):
    md = read_md(built_report)
    ref = md.split("**FAN Hybrid variants, COCO / COCO-C detection**", 1)[1].split("**", 1)[0]
    assert "| FAN-T-Hybrid (published) | 50.20 | 33.10 |" in ref
    fan = load_fixture("det_fan.json")["summary"]["stats"]["AP"]
    assert (f"| ours: fan_tiny_8_p4_hybrid retinanet (architecture of FAN-T-Hybrid) | {fan['P']:.2f} | "
            f"{fan['mPC']:.2f} |") in ref
    assert "16 corruptions on pre-generated JPEG images" in md
    assert "IN-C compared as our mean top-1 over the 15 benchmark corruptions" in md


def test_detection_and_coco_o_rows_say_how_many_images_a_run_skipped(tmp_path):
    """A run under --skip-bad left images out: its rows carry the count, as the OOD rows do, so a number
    on fewer images is never shown as a full one."""
    from report_fixtures import coco_o_file

    from fan_det.report.__main__ import main

    det = load_fixture("det_fan.json")
    det["dataset"].update(num_skipped=2, skipped=["a.jpg", "b.jpg"])
    (tmp_path / "det").mkdir()
    (tmp_path / "det" / "robustness.json").write_text(json.dumps(det))
    coco_o = coco_o_file(tmp_path, "det o", "resnet50", [12.0, 18.0, 30.0, 6.0, 24.0, 36.0])
    doc = json.loads(coco_o.read_text())
    doc["dataset"]["domains"] = {"sketch": {"num_images": 9, "num_skipped": 1, "skipped": ["c.jpg"]}}
    coco_o.write_text(json.dumps(doc))
    out = tmp_path / "out"
    assert main(["--detection", str(tmp_path / "det"), "--coco-o", str(coco_o), "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["detection"]["models"][0]["labels"] == ["2 images skipped"]
    assert report["coco_o"]["models"][0]["labels"] == ["1 image skipped"]
    md = read_md({"md": out / "report.md"})
    assert f"{det['model']['name']} [2 images skipped]" in md and "det o [1 image skipped]" in md
