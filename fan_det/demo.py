"""``python -m fan_det.demo``: the whole pipeline on the embedded tiny data, one progress line per stage.

Builds the tiny datasets, trains the tiny FAN-T-Hybrid RetinaNet on the synthetic shapes, evaluates it
clean and over the full 15 x 5 COCO-C grid of the mini val set (with bootstrap intervals) and on a
COCO-O-shaped set (the mini val set restyled per domain), trains the tiny FAN-T-Hybrid SegFormer on the
synthetic scenes and evaluates it on a reduced Cityscapes-C-style grid of the tiny segmentation set and
on its ACDC-style restyled copy, runs ``eval_ood`` on the tiny OOD sets
(ImageNet-V2 and ImageNet-C built from the tiny val photos included) with a randomly initialised FAN
(labelled so) and the real pretrained EfficientNet-Lite0, then writes the report. Each evaluation stage
runs the public CLI in a subprocess, exactly as a user would; its output goes to ``OUT/logs/<stage>.log``.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fan_det.paths import REPO_ROOT

TRAIN_CONFIG = "configs/tiny/retinanet_fan_tiny_hybrid_synth.yaml"
COCO_C_DATASET = "fan_synth_val_mini"
SEG_CONFIG = "configs/tiny/segformer_fan_tiny_hybrid_synth.yaml"
SEG_DATASET = "fan_synth_seg_val"
# The segmentation stage's reduced grid (the demo's 15-minute budget): a noise and a weather corruption of
# the authors' protocol (fan-city-c) at its three severities; the report labels it partial.
SEG_CORRUPTIONS = "gaussian_noise,fog"
OOD_FAN_MODEL = "fan_tiny_8_p4_hybrid"
OOD_BASELINE_MODEL = "fan_det.zoo.efficientnet_lite0:build"
TITLE = "fan_det demo report (tiny embedded data)"
OOD_SETS = ("imagenet", "imagenet-a", "imagenet-r", "imagenet-sketch", "imagenet-v2")
BOOTSTRAP_RESAMPLES = 50  # the tiny sets' intervals are wide anyway; 200 is the documented choice

EXAMPLE = """examples:
  python -m fan_det.demo                        # the full demo (what `make demo` runs)
  python -m fan_det.demo --quick --out /tmp/d   # one iteration, one corruption cell: a smoke run"""


@dataclass
class Plan:
    """What the demo runs: the full pipeline, or its ``--quick`` smoke-sized version."""

    out: Path
    coco_c_dataset: str = COCO_C_DATASET
    train_iters: int | None = None  # None: the config's own schedule
    corruptions: str = "benchmark"
    severities: str = "1-5"
    ood_sets: tuple[str, ...] = OOD_SETS
    imagenet_c: tuple[tuple[str, ...], tuple[int, ...]] | None = None
    coco_o_domains: str = "all"
    seg_train_iters: int | None = None  # None: the tiny segmentation config's own schedule
    seg_corruptions: str = SEG_CORRUPTIONS
    seg_severities: str = "1-3"
    acdc_conditions: str = "all"
    bootstrap: int = BOOTSTRAP_RESAMPLES
    extra_train: list[str] = field(default_factory=list)

    @property
    def partial(self) -> bool:
        return self.corruptions != "benchmark" or self.severities != "1-5"


def make_plan(out: Path, quick: bool, coco_c_dataset: str = COCO_C_DATASET) -> Plan:
    """The full plan covers the 15 x 5 grid and ImageNet-C; the report labels the quick one partial."""
    from fan_det.corruptions import CORRUPTION_SETS

    if quick:
        return Plan(out, coco_c_dataset, train_iters=1, corruptions="gaussian_noise", severities="1",
                    ood_sets=("imagenet-a",), imagenet_c=(("gaussian_noise",), (1,)),
                    coco_o_domains="sketch", seg_train_iters=1, seg_corruptions="fog",
                    seg_severities="1", acdc_conditions="fog", bootstrap=0,
                    extra_train=["SOLVER.IMS_PER_BATCH", "2", "SOLVER.WARMUP_ITERS", "1",
                                 "SOLVER.STEPS", "()"])
    return Plan(out, coco_c_dataset, imagenet_c=(tuple(CORRUPTION_SETS["benchmark"]), (1, 2, 3, 4, 5)))


def _python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def train_command(plan: Plan) -> list[str]:
    """No test sets: the trainer would evaluate at the end, and the COCO-C stage does that already."""
    cmd = _python_module("fan_det.train", "--config", TRAIN_CONFIG, "OUTPUT_DIR", str(plan.out / "train"),
                         "DATASETS.TEST", "()")
    if plan.train_iters is not None:
        cmd += ["SOLVER.MAX_ITER", str(plan.train_iters), "SOLVER.CHECKPOINT_PERIOD", "100000",
                *plan.extra_train]
    return cmd


def coco_c_command(plan: Plan) -> list[str]:
    cmd = _python_module("fan_det.eval_coco_c", "--config", TRAIN_CONFIG,
                         "--weights", str(plan.out / "train" / "model_final.pth"),
                         "--dataset", plan.coco_c_dataset,
                         "--corruptions", plan.corruptions, "--severities", plan.severities,
                         "--name", f"{OOD_FAN_MODEL} retinanet (demo, synthetic shapes)",
                         "--bootstrap", str(plan.bootstrap), "--out", str(plan.out / "coco_c"))
    return cmd + (["--allow-partial"] if plan.partial else [])


def coco_o_command(plan: Plan, root: Path) -> list[str]:
    return _python_module("fan_det.eval_coco_o", "--config", TRAIN_CONFIG,
                          "--weights", str(plan.out / "train" / "model_final.pth"),
                          "--coco-o-root", str(root), "--domains", plan.coco_o_domains,
                          "--name", f"{OOD_FAN_MODEL} retinanet (demo, synthetic shapes)",
                          "--bootstrap", str(plan.bootstrap), "--out", str(plan.out / "coco_o"))


def seg_train_command(plan: Plan) -> list[str]:
    cmd = _python_module("fan_det.train", "--config", SEG_CONFIG, "OUTPUT_DIR", str(plan.out / "seg_train"),
                         "DATASETS.TEST", "()")
    if plan.seg_train_iters is not None:
        cmd += ["SOLVER.MAX_ITER", str(plan.seg_train_iters), "SOLVER.CHECKPOINT_PERIOD", "100000",
                "SOLVER.WARMUP_ITERS", "1"]
    return cmd


def city_c_command(plan: Plan) -> list[str]:
    return _python_module("fan_det.eval_city_c", "--config", SEG_CONFIG,
                          "--weights", str(plan.out / "seg_train" / "model_final.pth"),
                          "--dataset", SEG_DATASET, "--protocol", "fan-city-c",
                          "--corruptions", plan.seg_corruptions, "--severities", plan.seg_severities,
                          "--allow-partial",
                          "--name", f"{OOD_FAN_MODEL} segformer (demo, synthetic shapes)",
                          "--bootstrap", str(plan.bootstrap), "--out", str(plan.out / "city_c"))


def acdc_command(plan: Plan) -> list[str]:
    return _python_module("fan_det.eval_acdc", "--config", SEG_CONFIG,
                          "--weights", str(plan.out / "seg_train" / "model_final.pth"), "--tiny",
                          "--conditions", plan.acdc_conditions,
                          "--name", f"{OOD_FAN_MODEL} segformer (demo, synthetic shapes)",
                          "--bootstrap", str(plan.bootstrap), "--out", str(plan.out / "acdc"))


def ood_command(plan: Plan, model: str, out_name: str, datasets: dict[str, Path]) -> list[str]:
    cmd = _python_module("fan_det.eval_ood", "--model", model, "--out", str(plan.out / out_name))
    for name, root in datasets.items():
        cmd += ["--dataset", f"{name}={root}"]
    return cmd


def build_datasets(plan: Plan) -> dict[str, Path]:
    """The tiny detection sets (registered lazily by the CLIs), the tiny COCO-O-shaped set (``coco-o``)
    and the OOD ImageFolder roots."""
    from fan_det.data.acdc import build_tiny_acdc_set
    from fan_det.data.coco_o import build_tiny_coco_o_set
    from fan_det.data.ood_sets import build_ood_sets
    from fan_det.data.register import tiny_datasets

    tiny_datasets()
    build_tiny_acdc_set(SEG_DATASET)
    roots = build_ood_sets()
    datasets = {name: roots[name] for name in plan.ood_sets}
    if plan.imagenet_c is not None:
        from fan_det.corruptions.imagenet_c import build_tiny_imagenet_c

        datasets["imagenet-c"] = build_tiny_imagenet_c(*plan.imagenet_c)
    return {**datasets, "coco-o": build_tiny_coco_o_set()}


class StageFailed(RuntimeError):
    """A stage's command failed; the message carries the tail of its log."""


def run_command(cmd: list[str], log: Path) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as fh:
        fh.write("$ " + shlex.join(cmd) + "\n")
        fh.flush()
        code = subprocess.run(cmd, cwd=REPO_ROOT, stdout=fh, stderr=subprocess.STDOUT).returncode
    if code != 0:
        tail = "\n".join(log.read_text().splitlines()[-25:])
        raise StageFailed(f"{shlex.join(cmd[1:4])} ... exited with {code}; end of {log}:\n{tail}")


def run_demo(plan: Plan, say: Callable[[str], None] = print) -> Path:
    """Run every stage in order; returns the report.html path."""
    from fan_det.report import write_report

    logs = plan.out / "logs"
    datasets: dict[str, Path] = {}  # the OOD roots and "coco-o"

    def ood_sets() -> dict[str, Path]:
        return {name: root for name, root in datasets.items() if name != "coco-o"}

    def stage_datasets() -> str:
        datasets.update(build_datasets(plan))
        return (f"{len(datasets) - 1} OOD sets, {plan.coco_c_dataset} for COCO-C, its restyled copy for "
                f"COCO-O, {SEG_DATASET} restyled for ACDC")

    stages: list[tuple[str, str, Callable[[], str]]] = [
        ("datasets", "build the tiny datasets", stage_datasets),
        ("train", "train the tiny FAN-T-Hybrid RetinaNet on fan_synth_train",
         lambda: _run("train", train_command(plan))),
        ("coco_c", f"evaluate it clean + {plan.corruptions} x severities {plan.severities} "
                   f"on {plan.coco_c_dataset}",
         lambda: _run("coco_c", coco_c_command(plan))),
        ("coco_o", f"evaluate it on COCO-O domains {plan.coco_o_domains} (tiny restyled set)",
         lambda: _run("coco_o", coco_o_command(plan, datasets["coco-o"]))),
        ("seg_train", "train the tiny FAN-T-Hybrid SegFormer on fan_synth_seg_train",
         lambda: _run("seg_train", seg_train_command(plan))),
        ("city_c", f"evaluate it clean + {plan.seg_corruptions} x severities {plan.seg_severities} "
                   f"on {SEG_DATASET} (fan-city-c, partial)",
         lambda: _run("city_c", city_c_command(plan))),
        ("acdc", f"evaluate it on ACDC conditions {plan.acdc_conditions} (tiny restyled set)",
         lambda: _run("acdc", acdc_command(plan))),
        ("ood_fan", f"eval_ood: {OOD_FAN_MODEL} with random weights",
         lambda: _run("ood_fan", ood_command(plan, OOD_FAN_MODEL, "ood_fan", ood_sets()))),
        ("ood_effnet", "eval_ood: pretrained EfficientNet-Lite0",
         lambda: _run("ood_effnet", ood_command(plan, OOD_BASELINE_MODEL, "ood_effnet", ood_sets()))),
        ("report", "write the report", lambda: _report()),
    ]

    def _run(name: str, cmd: list[str]) -> str:
        run_command(cmd, logs / f"{name}.log")
        return f"log {logs / f'{name}.log'}"

    def _report() -> str:
        command = "python -m fan_det.demo " + shlex.join(sys.argv[1:])
        paths = write_report([plan.out / "coco_c"], [plan.out / "ood_fan", plan.out / "ood_effnet"],
                             plan.out / "report", command=command, title=TITLE, coco_o=[plan.out / "coco_o"],
                             segmentation=[plan.out / "city_c"], acdc=[plan.out / "acdc"])
        return str(paths["html"])

    start = time.monotonic()
    result = ""
    for i, (_, text, fn) in enumerate(stages, 1):
        say(f"[{i}/{len(stages)}] {text} ...")
        t0 = time.monotonic()
        result = fn()
        say(f"[{i}/{len(stages)}] done in {time.monotonic() - t0:.0f} s: {result}")
    say(f"demo finished in {time.monotonic() - start:.0f} s; report: {result}")
    return Path(result)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fan_det.demo", description=__doc__, epilog=EXAMPLE,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/demo"),
                        help="output folder (default: %(default)s, under the working directory)")
    parser.add_argument("--quick", action="store_true",
                        help="1 training iteration, one corruption cell, ImageNet-A and one ImageNet-C cell "
                        "(results labelled partial)")
    parser.add_argument("--coco-c-dataset", default=COCO_C_DATASET,
                        help="registered detectron2 val set for the COCO-C grid (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        run_demo(make_plan(args.out.resolve(), args.quick, args.coco_c_dataset))
    except StageFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
