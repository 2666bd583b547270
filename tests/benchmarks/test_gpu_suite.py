"""benchmarks/gpu_suite.sh: a dry run on the CPU (--quick) produces every step's figures and files, and a
failed step or a bad option stops the suite with a non-zero status.

The figures themselves are not checked against any time (they depend on the machine): only that each is
a number, that each ratio is the quotient of the figures printed beside it, and that the training run
wrote what a 2-iteration run writes.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
SUITE = REPO / "benchmarks" / "gpu_suite.sh"
QUICK_ITERATIONS = 2  # SOLVER.MAX_ITER of the suite's --quick training run
NUMBER = r"(\d+(?:\.\d+)?)"


def run_suite(*args: str, python: str = sys.executable) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHON": python}
    return subprocess.run(["bash", str(SUITE), *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=900)


def close_to_quotient(ratio: float, numerator: float, denominator: float) -> bool:
    """``ratio`` as printed (2 decimals) from figures printed with 2 decimals."""
    low = (numerator - 0.005) / (denominator + 0.005)
    high = (numerator + 0.005) / max(denominator - 0.005, 1e-9)
    return low - 0.005 <= ratio <= high + 0.005


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path_factory.mktemp("gpu_suite") / "out"
    return run_suite("--device", "cpu", "--quick", "--out", str(out)), out


@pytest.mark.slow
def test_quick_run_passes_every_step_and_names_the_machine(quick_run):
    done, out = quick_run
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(r"^machine: CPU .+; torch .+; device cpu$", done.stdout, re.M), done.stdout
    for step in ("fan_forward", "train_step", "seg_train_step", "seg_forward", "train", "eval_throughput"):
        assert re.search(rf"^== {step}$", done.stdout, re.M), step
        assert re.search(rf"^\({step}: \d+ s\)$", done.stdout, re.M), step
    assert done.stdout.rstrip().endswith(f"all steps passed; outputs in {out}")


@pytest.mark.slow
def test_fan_forward_step_prints_both_precisions_with_consistent_ratios(quick_run):
    done, out = quick_run
    assert done.returncode == 0, done.stderr[-3000:]
    text = (out / "fan_forward.out").read_text()
    rows = re.findall(rf"^fan_tiny_12_p16_224\s+64x64\s+(\w+)\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+-\s+-$",
                      text, re.M)
    assert sorted(r[0] for r in rows) == ["bfloat16", "float32"], text
    for _, fused, explicit, ratio in rows:
        fused, explicit, ratio = float(fused), float(explicit), float(ratio)
        assert fused > 0 and explicit > 0
        assert close_to_quotient(ratio, fused, explicit), (fused, explicit, ratio)
    assert text in done.stdout  # shown, not only logged


@pytest.mark.slow
def test_train_step_compares_fan_with_r50_under_bfloat16_autocast(quick_run):
    done, out = quick_run
    assert done.returncode == 0, done.stderr[-3000:]
    text = (out / "train_step.out").read_text()
    assert "AMP on (bfloat16 autocast)" in text
    r50 = re.search(rf"^R50-FPN RetinaNet \(detectron2\)\s+{NUMBER}\s+-$", text, re.M)
    fan = re.search(rf"^FAN-S-Hybrid RetinaNet\s+{NUMBER}\s+-$", text, re.M)
    ratio = re.search(rf"^ratio FAN / R50: images/s {NUMBER}x$", text, re.M)
    assert r50 and fan and ratio, text
    assert float(r50[1]) > 0 and float(fan[1]) > 0
    assert close_to_quotient(float(ratio[1]), float(fan[1]), float(r50[1]))


@pytest.mark.slow
def test_segmentation_step_and_forward_compare_fan_with_r50(quick_run):
    done, out = quick_run
    assert done.returncode == 0, done.stderr[-3000:]
    text = (out / "seg_train_step.out").read_text()
    r50 = re.search(rf"^R50 semantic FPN \(detectron2\)\s+{NUMBER}\s+-$", text, re.M)
    fan = re.search(rf"^FAN-S-Hybrid SegFormer\s+{NUMBER}\s+-$", text, re.M)
    ratio = re.search(rf"^ratio FAN / R50: images/s {NUMBER}x$", text, re.M)
    assert r50 and fan and ratio, text
    assert close_to_quotient(float(ratio[1]), float(fan[1]), float(r50[1]))
    text = (out / "seg_forward.out").read_text()
    rows = {name: float(speed) for name, speed in re.findall(rf"^(.+?)\s+{NUMBER}\s+[\d.]+$", text, re.M)}
    assert list(rows) == ["R50 semantic FPN (detectron2), whole", "FAN-S-Hybrid SegFormer, whole",
                          "FAN-S-Hybrid SegFormer, slide 64/48"], text
    for line in text.splitlines()[2:]:
        *_, speed, ratio = line.split()
        assert close_to_quotient(float(ratio), float(speed), rows["R50 semantic FPN (detectron2), whole"])
    assert text in done.stdout


@pytest.mark.slow
def test_training_run_wrote_its_checkpoint_and_metrics(quick_run):
    done, out = quick_run
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [json.loads(line) for line in (out / "train" / "metrics.json").read_text().splitlines()]
    training = [row for row in rows if "total_loss" in row]
    assert training[-1]["iteration"] == QUICK_ITERATIONS - 1
    assert math.isfinite(training[-1]["total_loss"])
    checkpoint = torch.load(out / "train" / "model_final.pth", map_location="cpu", weights_only=False)
    assert checkpoint["iteration"] == QUICK_ITERATIONS - 1
    assert any(key.startswith("backbone.") for key in checkpoint["model"])
    summary = re.search(rf"^train: (\d+) iterations, .*total_loss {NUMBER}, model_final.pth {NUMBER} MiB$",
                        done.stdout, re.M)
    assert summary, done.stdout
    assert int(summary[1]) == QUICK_ITERATIONS
    assert float(summary[2]) == pytest.approx(training[-1]["total_loss"], abs=1e-4)


@pytest.mark.slow
def test_eval_throughput_prints_every_cell_with_the_wait_per_batch(quick_run):
    done, out = quick_run
    assert done.returncode == 0, done.stderr[-3000:]
    text = (out / "eval_throughput.out").read_text()
    assert "wait ms/batch" in text
    number_columns = r"\s+".join([NUMBER] * 7)  # img/s, x base, wait %, wait ms/batch, hours, budgeted, x
    rows = re.findall(rf"^\s*([\w-]+)\s+(\d+)\s+{number_columns}$", text, re.M)
    assert sorted((cell, workers) for cell, workers, *_ in rows) == [
        ("clean-0", "0"), ("clean-0", "1"), ("gaussian_noise-1", "0"), ("gaussian_noise-1", "1")], text
    baseline = float(rows[0][2])
    for _, _, speed, x_base, wait_share, wait_ms, _, within, budget_x in rows:
        assert float(speed) > 0 and 0 <= float(wait_share) <= 100 and float(wait_ms) >= 0
        assert close_to_quotient(float(x_base), float(speed), baseline)
        assert close_to_quotient(float(budget_x), float(within), float(speed))


def test_a_failing_step_stops_the_suite_with_a_nonzero_status(tmp_path):
    """An interpreter that fails the first benchmark: the suite stops there, names the step, runs no more."""
    wrapper = tmp_path / "python"
    wrapper.write_text(f'#!/usr/bin/env bash\n[[ "${{1:-}}" == benchmarks/fan_forward.py ]] && '
                       f'{{ echo "boom" >&2; exit 3; }}\nexec "{sys.executable}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    out = tmp_path / "out"
    done = run_suite("--device", "cpu", "--quick", "--out", str(out), python=str(wrapper))
    assert done.returncode != 0
    assert "error: step fan_forward failed" in done.stderr
    assert "boom" in done.stderr  # the end of the step's log is shown
    assert "== train_step" not in done.stdout and not (out / "train").exists()


@pytest.mark.parametrize("args", [("--device", "tpu"), ("--bogus",), ("--out",)])
def test_bad_options_are_refused_with_one_error_line(args, tmp_path):
    done = run_suite(*args, python=str(tmp_path / "never-run"))
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is visible here")
def test_cuda_without_a_gpu_is_refused_before_any_step(tmp_path):
    done = run_suite("--out", str(tmp_path / "out"))
    assert done.returncode == 2
    assert done.stderr.startswith("error: --device cuda but torch sees no GPU")
    assert "== fan_forward" not in done.stdout
