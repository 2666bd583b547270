"""The demo: its commands are ones the real CLIs accept, its stages run in order with a progress line
each, a failing stage stops it with the log's tail, and (slow) the quick demo runs end to end."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from report_fixtures import FIXTURES

from fan_det import demo
from fan_det.paths import REPO_ROOT


@pytest.mark.parametrize("quick", [False, True])
def test_demo_commands_parse_with_the_real_clis(tmp_path, monkeypatch, quick):
    from fan_det.eval_coco_c import build_parser as coco_c_parser
    from fan_det.eval_coco_o import build_parser as coco_o_parser
    from fan_det.eval_ood import build_parser as ood_parser
    from fan_det.train import build_parser as train_parser
    from fan_det.train import load_config

    monkeypatch.chdir(REPO_ROOT)
    plan = demo.make_plan(tmp_path, quick)
    train = train_parser().parse_args(demo.train_command(plan)[3:])
    cfg = load_config(train.config_file, train.opts)
    assert cfg.OUTPUT_DIR == str(tmp_path / "train")
    assert cfg.DATASETS.TEST == ()
    assert cfg.MODEL.FAN.NAME == "fan_tiny_8_p4_hybrid"
    assert cfg.SOLVER.MAX_ITER == (1 if quick else load_config(train.config_file).SOLVER.MAX_ITER)

    coco_c = coco_c_parser().parse_args(demo.coco_c_command(plan)[3:])
    assert coco_c.weights == str(tmp_path / "train" / "model_final.pth")
    assert coco_c.dataset == "fan_synth_val_mini"
    expected = ("gaussian_noise", "1") if quick else ("benchmark", "1-5")
    assert (coco_c.corruptions, coco_c.severities) == expected
    assert coco_c.allow_partial == quick
    assert coco_c.bootstrap == (0 if quick else demo.BOOTSTRAP_RESAMPLES)

    coco_o = coco_o_parser().parse_args(demo.coco_o_command(plan, tmp_path / "o")[3:])
    assert (coco_o.weights, coco_o.config) == (coco_c.weights, coco_c.config)
    assert coco_o.coco_o_root == str(tmp_path / "o") and coco_o.domains == ("sketch" if quick else "all")

    roots = {"imagenet-a": tmp_path / "a", "imagenet-c": tmp_path / "c"}
    for model in (demo.OOD_FAN_MODEL, demo.OOD_BASELINE_MODEL):
        args = ood_parser().parse_args(demo.ood_command(plan, model, "x", roots)[3:])
        assert args.model == model and args.checkpoint is None and not args.pretrained
        assert sorted(args.dataset) == sorted(f"{k}={v}" for k, v in roots.items())
    if not quick:
        assert len(plan.imagenet_c[0]) == 15 and plan.imagenet_c[1] == (1, 2, 3, 4, 5)

    from fan_det.eval_acdc import build_parser as acdc_parser
    from fan_det.eval_city_c import build_parser as city_c_parser

    seg_train = train_parser().parse_args(demo.seg_train_command(plan)[3:])
    seg_cfg = load_config(seg_train.config_file, seg_train.opts)
    assert seg_cfg.OUTPUT_DIR == str(tmp_path / "seg_train") and seg_cfg.MODEL.SEM_SEG_HEAD.NUM_CLASSES == 5
    assert seg_cfg.SOLVER.MAX_ITER == (1 if quick else load_config(seg_train.config_file).SOLVER.MAX_ITER)
    city_c = city_c_parser().parse_args(demo.city_c_command(plan)[3:])
    assert city_c.weights == str(tmp_path / "seg_train" / "model_final.pth") and city_c.allow_partial
    assert (city_c.protocol, city_c.dataset) == ("fan-city-c", "fan_synth_seg_val")
    acdc = acdc_parser().parse_args(demo.acdc_command(plan)[3:])
    assert acdc.tiny and acdc.weights == city_c.weights and acdc.conditions == ("fog" if quick else "all")


def _fake_cli(fixtures: dict[str, str]):
    """Stands in for the CLIs: writes the result a CLI would write into its --out folder."""
    def run(cmd, log):
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(" ".join(cmd))
        if "--out" in cmd:
            out = Path(cmd[cmd.index("--out") + 1])
            out.mkdir(parents=True, exist_ok=True)
            if out.name == "coco_o":
                _coco_o_result(out)
                return
            if out.name in ("city_c", "acdc"):
                _segmentation_result(out)
                return
            name = "robustness.json" if out.name == "coco_c" else "ood.json"
            shutil.copyfile(FIXTURES / fixtures[out.name], out / name)
    return run


def _coco_o_result(out: Path) -> None:
    """A one-domain COCO-O result, as the quick demo's ``eval_coco_o --domains sketch`` writes it."""
    from fan_det.results import CocoOResult

    domains = {"sketch": {"num_images": 16, "seconds": 1.0, "stats": {"bbox": {"AP": 12.5}}}}
    CocoOResult.build(model={"name": "fan_tiny_8_p4_hybrid retinanet", "backbone": "fan_tiny_8_p4_hybrid"},
                      dataset={"name": "COCO-O"}, domains=domains,
                      provenance={"command": "test"}).dump(out / "coco_o.json")


def _segmentation_result(out: Path) -> None:
    """The quick demo's partial segmentation results: one fan-city-c cell, one ACDC condition."""
    from fan_det.results import AcdcResult, SegmentationResult

    model = {"name": "fan_tiny_8_p4_hybrid segformer", "backbone": "fan_tiny_8_p4_hybrid"}
    stats = {"mIoU": 40.0, "IoU": {"background": 60.0, "shape": 20.0}, "excluded": []}
    if out.name == "acdc":
        AcdcResult.build(model=model, dataset={"name": "tiny ACDC"}, provenance={},
                         conditions={"fog": {"num_images": 4, "seconds": 1.0, "stats": stats}}
                         ).dump(out / "acdc.json")
        return
    cells = [{"corruption": c, "severity": s, "num_images": 4, "seconds": 1.0, "stats": stats}
             for c, s in (("clean", 0), ("fog", 1))]
    dataset = {"name": "fan_synth_seg_val", "classes": ["background", "shape"]}
    SegmentationResult.build(model=model, dataset=dataset, protocol={"name": "fan-city-c"}, cells=cells,
                             allow_partial=True, provenance={}).dump(out / "segmentation.json")


def test_demo_runs_every_stage_in_order_and_writes_the_report(tmp_path, monkeypatch):
    calls = []
    fake = _fake_cli({"coco_c": "det_fan.json", "ood_fan": "ood_fan.json", "ood_effnet": "ood_effnet.json"})
    monkeypatch.setattr(demo, "run_command", lambda cmd, log: (calls.append(log.stem), fake(cmd, log)))
    monkeypatch.setattr(demo, "build_datasets",
                        lambda plan: {"imagenet-a": tmp_path / "a", "coco-o": tmp_path / "o"})
    lines: list[str] = []
    html = demo.run_demo(demo.make_plan(tmp_path, quick=True), say=lines.append)
    assert calls == ["train", "coco_c", "coco_o", "seg_train", "city_c", "acdc", "ood_fan", "ood_effnet"]
    assert [line.split("]")[0] for line in lines[:-1]] == [f"[{i}/10" for i in range(1, 11) for _ in (0, 1)]
    assert lines[-1].endswith(f"report: {html}")
    report = json.loads((html.parent / "report.json").read_text())
    assert [m["name"] for m in report["detection"]["models"]] == ["fan_tiny_8_p4_hybrid retinanet"]
    assert [m["name"] for m in report["ood"]["models"]] == ["fan_tiny_8_p4_hybrid", "efficientnet_lite0"]
    assert report["title"] == demo.TITLE
    assert [m["name"] for m in report["coco_o"]["models"]] == ["fan_tiny_8_p4_hybrid retinanet"]
    assert [m["name"] for m in report["segmentation"]["models"]] == ["fan_tiny_8_p4_hybrid segformer"]
    assert [m["name"] for m in report["acdc"]["models"]] == ["fan_tiny_8_p4_hybrid segformer"]


def test_a_failing_stage_stops_the_demo_with_the_log_tail(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(demo, "build_datasets", lambda plan: {})
    failing = ["python3", "-c", "import sys; print('bad yaml'); sys.exit(3)"]
    monkeypatch.setattr(demo, "train_command", lambda plan: failing)
    assert demo.main(["--quick", "--out", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "[2/10] train" in captured.out and "[3/10]" not in captured.out
    assert "exited with 3" in captured.err and "bad yaml" in captured.err


@pytest.mark.slow
def test_quick_demo_end_to_end(tmp_path, capsys):
    assert demo.main(["--quick", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert all(f"[{i}/10] done" in out for i in range(1, 11))
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    (det,) = report["detection"]["models"]
    assert det["partial"] and "partial: 1 of 75 cells" in det["display"]
    assert [c["corruption"] for c in det["cells"]] == ["clean", "gaussian_noise"]
    fan, effnet = report["ood"]["models"]
    assert fan["random_init"] and "random weights" in fan["display"]
    assert not effnet["random_init"]
    # the real pretrained classifier gets most of these in-distribution photos right; random weights do not
    top1 = {m["name"]: m["datasets"]["imagenet-a"]["metrics"]["top1"] for m in (fan, effnet)}
    assert top1[effnet["name"]] >= 50.0 > top1[fan["name"]]
    (coco_o,) = report["coco_o"]["models"]
    assert "partial COCO-O: 1 of 6 domains" in coco_o["display"]
    (seg,) = report["segmentation"]["models"]
    assert [(c["corruption"], c["severity"]) for c in seg["cells"]] == [("clean", 0), ("fog", 1)]
    (acdc,) = report["acdc"]["models"]
    assert "partial ACDC: 1 of 4 conditions" in acdc["display"]
    md = (tmp_path / "report" / "report.md").read_text()
    assert f"{det['summary']['stats']['AP']['P']:.2f}" in md
    assert f"{seg['miou']['P']:.2f}" in md


def test_default_output_is_runs_demo_under_the_working_directory(tmp_path, monkeypatch):
    ran = []
    monkeypatch.setattr(demo, "run_demo", lambda plan: ran.append(plan.out))
    monkeypatch.chdir(tmp_path)
    assert demo.main([]) == 0
    assert ran == [tmp_path / "runs" / "demo"]  # not beside the installed package
