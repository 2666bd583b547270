"""The headline table: one row per backbone joining its classification, natural-shift and detection
results in their columns, intervals printed, n/a where not measured, and no "best" where intervals overlap."""

from __future__ import annotations

import json

from report_fixtures import FIXTURES, coco_o_file, load_fixture, md_tables, shown

from fan_det.protocol import COCO_O_DOMAINS
from fan_det.report import write_report
from fan_det.report.tables import column, row, table
from fan_det.results import CocoOResult

HEADLINE = ("One row per backbone: ImageNet and natural-shift top-1, ImageNet-C, effective robustness (ER, "
            "points above timm's line), COCO-C, COCO-O box AP, Cityscapes-C mIoU and ACDC mIoU")


def test_overlapping_intervals_are_tied_never_best():
    rows = [row("a", [60.0], intervals=[[50.0, 70.0]]), row("b", [55.0], intervals=[[45.0, 65.0]]),
            row("c", [20.0], intervals=[[10.0, 30.0]])]
    marked = table("t", "t", [column("top1")], rows)["rows"]
    assert [r["best"] for r in marked] == [[False], [False], [False]]
    assert [r["tied"] for r in marked] == [[True], [True], [False]]
    apart = [row("a", [60.0], intervals=[[56.0, 64.0]]), row("b", [50.0], intervals=[[46.0, 54.0]])]
    marked = table("t", "t", [column("top1")], apart)["rows"]
    assert [r["best"] for r in marked] == [[True], [False]] and not any(r["tied"][0] for r in marked)
    lower = [row("a", [10.0], intervals=[[5.0, 15.0]]), row("b", [12.0], intervals=[[8.0, 16.0]])]
    marked = table("t", "t", [column("calibration_error")], lower)["rows"]
    assert [r["tied"] for r in marked] == [[True], [True]]


def write(path, doc):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


def test_one_row_per_backbone_with_each_number_in_its_column(tmp_path):
    out = tmp_path / "out"
    coco_o = coco_o_file(tmp_path, "fan coco-o", "fan_tiny_8_p4_hybrid", [10.0, 20.0, 30.0, 40.0, 50.0, 60.0])
    write_report([FIXTURES / f for f in ("det_fan.json", "det_baseline.json")],
                 [FIXTURES / f for f in ("ood_fan.json", "ood_effnet.json")], out, coco_o=[coco_o])
    head = md_tables((out / "report.md").read_text())[HEADLINE]
    effnet = load_fixture("ood_effnet.json")["datasets"]
    ood_fan = load_fixture("ood_fan.json")["datasets"]
    det_fan = load_fixture("det_fan.json")["summary"]["stats"]["AP"]
    base = load_fixture("det_baseline.json")["summary"]["stats"]["AP"]
    fan_label = ("fan_tiny_8_p4_hybrid: fan_tiny_8_p4_hybrid [random weights]; "
                 "fan_tiny_8_p4_hybrid retinanet; fan coco-o")
    base_label = "resnet50: resnet50 retinanet"
    assert list(head) == [fan_label, "efficientnet_lite0", base_label]
    columns = {"ImageNet top-1": "imagenet", "ImageNet-A": "imagenet-a", "ImageNet-R": "imagenet-r",
               "Sketch": "imagenet-sketch", "V2": "imagenet-v2"}
    for label, dataset in columns.items():
        m = effnet[dataset]["metrics"]
        assert head["efficientnet_lite0"][label] == shown(m["top1"], m["top1_ci"])
        assert head[base_label][label] == "n/a"
    assert head[fan_label]["V2"] == "n/a"  # the FAN run has no ImageNetV2
    assert head[fan_label]["IN-C mCE"] == shown(ood_fan["imagenet-c"]["metrics"]["mce"])
    assert head[fan_label]["IN-C mean top-1"] == shown(ood_fan["imagenet-c"]["metrics"]["mean_acc_15"])
    assert head["efficientnet_lite0"]["IN-C mCE"] == "n/a"
    for key, label in (("P", "COCO P"), ("mPC", "COCO mPC"), ("rPC", "COCO rPC (%)")):
        # the trained FAN detector is ranked in its columns although the FAN classifier of its row is random
        best = max((det_fan, base), key=lambda s: s[key])
        for stats, name in ((det_fan, fan_label), (base, base_label)):
            expected = shown(stats[key])
            assert head[name][label] == (f"**{expected}**" if stats is best else expected)
    assert head[fan_label]["COCO-O mean AP"] == "35.00" and head[base_label]["COCO-O mean AP"] == "n/a"
    assert not any("**" in head[fan_label][c] for c in list(columns) + ["IN-C mCE"])  # random weights

    report = json.loads((out / "report.json").read_text())
    er_tables = {t["id"]: t for t in report["effective_robustness"]["tables"]}
    sketch = {r["label"]: r["values"] for r in er_tables["er-imagenet-sketch"]["rows"]}["efficientnet_lite0"]
    assert sketch[:2] == [effnet["imagenet"]["metrics"]["top1"], effnet["imagenet-sketch"]["metrics"]["top1"]]
    assert abs(sketch[3] - (sketch[1] - sketch[2])) < 1e-9
    assert head["efficientnet_lite0"]["ER ImageNet-Sketch"] == shown(sketch[3])
    assert {f.name for f in (out / "figures").glob("er-*.png")} == {
        "er-imagenet-r.png", "er-imagenet-sketch.png", "er-imagenet-v2.png"}


def test_a_detector_evaluated_on_coco_c_and_coco_o_is_named_once_in_its_row(tmp_path):
    """The demo's case: one detector name in robustness.json and coco_o.json, beside a classifier."""
    out = tmp_path / "out"
    det = load_fixture("det_fan.json")
    coco_o = coco_o_file(tmp_path, det["model"]["name"], det["model"]["backbone"], [10.0] * 6)
    write_report([FIXTURES / "det_fan.json"], [FIXTURES / "ood_fan.json"], out, coco_o=[coco_o])
    head = md_tables((out / "report.md").read_text())[HEADLINE]
    label = next(iter(head))
    assert label.count(det["model"]["name"]) == 1, label
    assert head[label]["COCO-O mean AP"] == "10.00" and head[label]["COCO P"] == shown(
        det["summary"]["stats"]["AP"]["P"])


def test_models_whose_intervals_overlap_are_tied_in_the_report(tmp_path):
    def model(name: str, top1: float, ci: list[float]) -> dict:
        doc = load_fixture("ood_effnet.json")
        doc["model"].update(name=name, backbone=name, checkpoint_sha256=name * 8)
        doc["datasets"] = {"imagenet-a": doc["datasets"]["imagenet-a"]}
        doc["datasets"]["imagenet-a"]["metrics"].update(top1=top1, top1_ci=ci)
        return doc

    out = tmp_path / "out"
    write_report([], [write(tmp_path / "x" / "ood.json", model("xnet", 40.0, [30.0, 50.0])),
                      write(tmp_path / "y" / "ood.json", model("ynet", 45.0, [35.0, 55.0]))], out)
    tables = md_tables((out / "report.md").read_text())
    for title, col in ((HEADLINE, "ImageNet-A"), ("ImageNet-A (6 images)", "top1")):
        assert tables[title]["xnet"][col] == "40.00 [30.00, 50.00] (tied)"
        assert tables[title]["ynet"][col] == "45.00 [35.00, 55.00] (tied)"
    write_report([], [write(tmp_path / "x" / "ood.json", model("xnet", 40.0, [36.0, 44.0])),
                      write(tmp_path / "y" / "ood.json", model("ynet", 45.0, [44.5, 49.0]))], out)
    tables = md_tables((out / "report.md").read_text())
    assert tables[HEADLINE]["ynet"]["ImageNet-A"] == "**45.00 [44.50, 49.00]**"
    assert tables[HEADLINE]["xnet"]["ImageNet-A"] == "40.00 [36.00, 44.00]"


def test_detection_intervals_are_printed_and_overlaps_tied(tmp_path):
    fan, base = load_fixture("det_fan.json"), load_fixture("det_baseline.json")
    fan["summary"]["stats"]["AP"].update(P_ci=[30.0, 33.0], mPC_ci=[13.0, 16.5])
    base["summary"]["stats"]["AP"].update(P_ci=[26.0, 29.5], mPC_ci=[11.0, 13.5])
    out = tmp_path / "out"
    inputs = [write(tmp_path / "f" / "robustness.json", fan), write(tmp_path / "b" / "robustness.json", base)]
    write_report(inputs, [], out)
    tables = md_tables((out / "report.md").read_text())
    retention = tables["AP: clean (P), mean under corruption (mPC), retention (rPC, %)"]
    fan_ap, base_ap = fan["summary"]["stats"]["AP"], base["summary"]["stats"]["AP"]
    assert retention[fan["model"]["name"]]["P"] == f"**{shown(fan_ap['P'], [30.0, 33.0])}**"
    assert retention[base["model"]["name"]]["P"] == shown(base_ap["P"], [26.0, 29.5])
    assert retention[fan["model"]["name"]]["mPC"] == f"{shown(fan_ap['mPC'], [13.0, 16.5])} (tied)"
    assert retention[base["model"]["name"]]["mPC"] == f"{shown(base_ap['mPC'], [11.0, 13.5])} (tied)"
    head = tables[HEADLINE]
    assert head["fan_tiny_8_p4_hybrid: fan_tiny_8_p4_hybrid retinanet"]["COCO mPC"].endswith("(tied)")


def test_imagenet_v2_heads_the_table_as_its_matched_frequency_set_only(tmp_path):
    doc = load_fixture("ood_effnet.json")
    doc["datasets"]["imagenet-v2"]["variant"] = "threshold-0.7"
    out = tmp_path / "out"
    write_report([], [write(tmp_path / "e" / "ood.json", doc)], out)
    tables = md_tables((out / "report.md").read_text())
    assert tables[HEADLINE]["efficientnet_lite0"]["V2"] == "n/a"
    assert "ER ImageNetV2 (matched frequency)" not in tables[HEADLINE]["efficientnet_lite0"]
    v2 = doc["datasets"]["imagenet-v2"]["metrics"]
    assert tables["ImageNetV2 (20 images)"]["efficientnet_lite0"]["top1"] == shown(v2["top1"], v2["top1_ci"])


def test_partial_coco_o_is_labelled_and_its_mean_not_ranked(tmp_path):
    full = coco_o_file(tmp_path, "full", "a", [10.0, 10.0, 10.0, 10.0, 10.0, 10.0])
    part = tmp_path / "part" / "coco_o.json"
    record = {"num_images": 10, "seconds": 1.0, "stats": {"bbox": {"AP": 50.0}}}
    domains = {d: record for d in COCO_O_DOMAINS[:3]}
    CocoOResult.build(model={"name": "part", "backbone": "b"}, dataset={"name": "coco_o"}, domains=domains,
                      provenance={}).dump(part)
    other = coco_o_file(tmp_path, "other", "c", [5.0, 5.0, 5.0, 5.0, 5.0, 5.0])
    out = tmp_path / "out"
    write_report([], [FIXTURES / "ood_effnet.json"], out, coco_o=[full, part, other])
    tables = md_tables((out / "report.md").read_text())
    table_rows = tables["COCO-O box AP: mean over the six domains and per domain"]
    assert table_rows["part [partial COCO-O: 3 of 6 domains]"]["mean AP"] == "50.00"  # shown, not bold
    assert table_rows["full"]["mean AP"] == "**10.00**"
    assert tables[HEADLINE]["b: part [partial COCO-O: 3 of 6 domains]"]["COCO-O mean AP"] == "50.00"
    assert tables[HEADLINE]["a: full"]["COCO-O mean AP"] == "**10.00**"
