"""python -m fan_det.eval_coco_c end to end on the CPU: the tiny FAN RetinaNet over 2 corruptions x 2
severities, killed part-way and resumed; and a detectron2 model-zoo baseline through the same command."""

import argparse
import contextlib
import gzip
import io
import json
import os
import re
import subprocess
import sys
import time

import pytest
from detectron2.data import MetadataCatalog
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from fan_det.data.register import register_tiny_datasets
from fan_det.eval_coco_c import build_parser
from fan_det.eval_coco_c import main as cli
from fan_det.paths import REPO_ROOT
from fan_det.results import RobustnessResult

DATASET = "fan_synth_val_mini"  # 16 synthetic images, 256-320 px
NAMES = ["AP", "AP50", "AP75", "APs", "APm", "APl"]
ENV = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")


def _command(*args):
    return [sys.executable, "-m", "fan_det.eval_coco_c", "--dataset", DATASET, *map(str, args)]


def _records(out):
    return sorted(p for p in out.glob("cells/*/*.json") if p.name != "key.json")


@pytest.fixture(scope="module")
def resumed_run(trained_tiny_retinanet, tmp_path_factory):
    """Run, SIGKILL once two cells are saved, rerun; returns (out dir, records finished before the kill)."""
    weights, config = trained_tiny_retinanet
    out = tmp_path_factory.mktemp("coco_c")
    command = _command("--config", config, "--weights", weights, "--corruptions", "gaussian_noise,contrast",
                       "--severities", "1,4", "--allow-partial", "--workers", "0", "--bootstrap", 30,
                       "--out", out)
    first = subprocess.Popen(command, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while len(_records(out)) < 2 and first.poll() is None:
        time.sleep(0.1)
    first.kill()
    _, stderr = first.communicate()
    assert first.returncode == -9, stderr.decode()[-3000:]
    before = {p.name: json.loads(p.read_text()) for p in _records(out)}
    rerun = subprocess.run(command, env=ENV, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    return out, before


@pytest.mark.slow
def test_rerun_evaluates_only_unfinished_cells(resumed_run):
    out, before = resumed_run
    all_cells = ["clean-0", "gaussian_noise-1", "gaussian_noise-4", "contrast-1", "contrast-4"]
    finished_before = {name.removesuffix(".json") for name in before}
    assert 2 <= len(finished_before) < 5  # killed part-way
    (log_file,) = out.glob("cells/*/log.jsonl")
    log = [json.loads(line) for line in log_file.read_text().splitlines()]
    runs = sorted({e["pid"] for e in log}, key=[e["pid"] for e in log].index)
    assert len(runs) == 2

    def cells(pid, event):
        return {"{}-{}".format(*e["entry"]) for e in log if e["pid"] == pid and e["event"] == event}

    evaluated = {run: cells(run, "evaluated") for run in runs}
    reused = cells(runs[1], "reused")
    assert evaluated[runs[0]] == finished_before
    assert evaluated[runs[1]] == set(all_cells) - finished_before
    assert reused == finished_before
    for name, record in before.items():  # the finished cells were not rewritten
        assert json.loads((log_file.parent / name).read_text()) == record
    document = RobustnessResult.load(out / "robustness.json").doc
    assert [f"{c['corruption']}-{c['severity']}" for c in document["cells"]] == all_cells


@pytest.mark.slow
def test_each_cell_ap_equals_pycocotools_on_its_saved_detections(resumed_run):
    out, _ = resumed_run
    register_tiny_datasets()
    json_file = MetadataCatalog.get(DATASET).json_file
    document = RobustnessResult.load(out / "robustness.json").doc
    (cell_dir,) = out.glob("cells/*/")
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(json_file)
    detections = {}
    for cell in document["cells"]:
        name = f"{cell['corruption']}-{cell['severity']}"
        with gzip.open(cell_dir / f"{name}.detections.json.gz", "rt") as f:
            detections[name] = json.load(f)
        assert detections[name], f"{name}: the trained model detected nothing"
        assert cell["num_images"] == len(gt.getImgIds()) == 16
        with contextlib.redirect_stdout(io.StringIO()):
            coco_eval = COCOeval(gt, gt.loadRes(detections[name]), "bbox")
            coco_eval.evaluate()
            coco_eval.accumulate()
            coco_eval.summarize()
        expected = {k: 100 * v for k, v in zip(NAMES, coco_eval.stats[:6], strict=True) if v >= 0}
        assert cell["stats"]["bbox"] == pytest.approx(expected, abs=1e-9)
    assert document["cells"][0]["stats"]["bbox"]["AP"] > 0  # the trained model finds the shapes
    assert detections["gaussian_noise-4"] != detections["clean-0"]  # the corruption reached the model
    summary = document["summary"]
    corrupted = [c["stats"]["bbox"]["AP"] for c in document["cells"][1:]]
    assert summary["partial"] is True and len(summary["cells_used"]) == 4
    assert summary["stats"]["AP"]["mPC"] == pytest.approx(sum(corrupted) / 4)
    assert document["protocol"]["mode"] == "on-the-fly" and document["protocol"]["seed"] == 0
    assert document["model"]["name"] == "fan_tiny_8_p4_hybrid retinanet"
    assert document["model"]["backbone"] == "fan_tiny_8_p4_hybrid"  # the config's FAN variant
    assert document["model"]["random_init"] is False and len(document["model"]["weights_sha256"]) == 64


@pytest.mark.slow
def test_bootstrap_interval_is_written_beside_p(resumed_run):
    out, _ = resumed_run
    document = RobustnessResult.load(out / "robustness.json").doc
    ap = document["summary"]["stats"]["AP"]
    assert document["protocol"]["bootstrap"]["resamples"] == 30
    lo, hi = ap["P_ci"]
    assert lo < ap["P"] < hi
    assert "mPC_ci" not in ap  # a partial grid has no mPC interval


@pytest.mark.slow
def test_model_zoo_baseline_through_the_same_command_in_two_processes(tmp_path):
    out = tmp_path / "baseline"
    command = _command("--config", "COCO-Detection/retinanet_R_50_FPN_1x.yaml", "--random-init",
                       "--corruptions", "contrast", "--severities", "2", "--allow-partial", "--num-gpus", "2",
                       "--num-workers", "0", "--out", out,
                       "INPUT.MIN_SIZE_TEST", "64", "INPUT.MAX_SIZE_TEST", "96",
                       "MODEL.RETINANET.NUM_CLASSES", "4", "MODEL.RETINANET.SCORE_THRESH_TEST", "0.0")
    run = subprocess.run(command, env=ENV, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    document = RobustnessResult.load(out / "robustness.json").doc
    assert document["model"]["name"] == "retinanet_R_50_FPN_1x" and document["model"]["random_init"] is True
    cells = [(c["corruption"], c["num_images"]) for c in document["cells"]]
    assert cells == [("clean", 16), ("contrast", 16)]
    (cell_dir,) = out.glob("cells/*/")
    for name in ("clean-0", "contrast-2"):
        with gzip.open(cell_dir / f"{name}.detections.json.gz", "rt") as f:
            per_image = {}
            for det in json.load(f):
                per_image[det["image_id"]] = per_image.get(det["image_id"], 0) + 1
        # Both processes' shards, each image once: no image has twice the 100 detections allowed.
        assert len(per_image) == 16 and max(per_image.values()) <= 100


def test_incomplete_grid_is_refused_before_any_work(capsys):
    with pytest.raises(SystemExit) as info:
        cli(["--config", "COCO-Detection/retinanet_R_50_FPN_1x.yaml", "--random-init", "--corruptions", "fog",
             "--severities", "1"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "fog/2" in err and "gaussian_noise/1" in err and "--allow-partial" in err
    assert err.startswith("error: ") and err.count("\n") == 1  # one line


def test_unknown_config_is_a_clear_error(capsys):
    with pytest.raises(SystemExit, match="2"):
        cli(["--config", "COCO-Detection/nope.yaml", "--random-init", "--corruptions", "fog", "--severities",
             "1", "--allow-partial"])
    assert "neither a file nor a detectron2 model-zoo config" in capsys.readouterr().err


def test_help_shows_a_working_example():
    text = build_parser().format_help()
    assert "python -m fan_det.eval_coco_c --config COCO-Detection/retinanet_R_50_FPN_1x.yaml" in text


def test_help_names_existing_configs_and_every_default():
    text = build_parser().format_help()
    configs = set(re.findall(r"configs/[\w/.-]+\.yaml", text))
    assert len(configs) >= 2 and all((REPO_ROOT / c).is_file() for c in configs), configs
    assert "(default: runs/coco_c)" in text and "(default: faster-coco-eval)" in text
    assert "output/" not in text and "--num-workers" not in text  # runs/ and the shared spelling only
    flat = " ".join(text.split())
    shown = [a for a in build_parser()._actions
             if a.help != argparse.SUPPRESS and a.dest not in ("help", "opts")]
    assert all(f"(default: {a.default})" in flat for a in shown), shown


@pytest.mark.parametrize("bad, message", [(["--dataset", "no_such_set"], "not registered"),
                                          (["--weights", "/no/such.pth"], "does not exist")])
def test_bad_dataset_or_weights_are_clear_errors(capsys, bad, message):
    weights = [] if "--weights" in bad else ["--random-init"]
    with pytest.raises(SystemExit, match="2"):
        cli(["--config", "COCO-Detection/retinanet_R_50_FPN_1x.yaml", *weights, "--corruptions", "fog",
             "--severities", "1", "--allow-partial", *bad])
    assert message in capsys.readouterr().err


ZOO = ["--config", "COCO-Detection/retinanet_R_50_FPN_1x.yaml", "--random-init", "--dataset", DATASET]


@pytest.mark.parametrize("argv, named", [
    ([*ZOO, "--bogus"], "unrecognized arguments: --bogus"),
    (["--random-init"], "--config"),
    ([*ZOO, "--severities", "7", "--allow-partial"], "bad severities '7'"),
    ([*ZOO, "--corruptions", "rain", "--allow-partial"], "unknown corruption or set 'rain'"),
    ([*ZOO, "--corruptions", "fog", "--allow-partial", "INPUT.MIN_SIZE_TEST"], "KEY VALUE pairs"),
    ([*ZOO, "--corruptions", "fog", "--allow-partial", "INPUT.NO_SUCH_KEY", "3"], "INPUT.NO_SUCH_KEY"),
    ([*ZOO, "--corruptions", "fog", "--allow-partial", "--threads", "0"], "--threads"),
    ([*ZOO, "--corruptions", "fog", "--allow-partial", "--workers", "-1"], "--workers must be 0 or more"),
    ([*ZOO, "--scorer", "fast"], "invalid choice: 'fast'"),
    ([*ZOO, "--corruptions", "fog", "--allow-partial", "--bootstrap", "1"], "--bootstrap must be 0"),
])
def test_every_input_error_is_one_error_line_with_status_2(capsys, argv, named):
    with pytest.raises(SystemExit) as info:
        cli(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and named in errors[0] and "Traceback" not in err and "usage:" not in err, err
