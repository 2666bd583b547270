"""One rule for every tool's --out: a folder holding another model's results is refused before any
inference, with the same words (those of eval_ood), and replaced only under --overwrite."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fan_det.data.coco_o import build_tiny_coco_o_set
from fan_det.eval_coco_c import main as eval_coco_c
from fan_det.eval_coco_o import main as eval_coco_o
from fan_det.protocol import COCO_O_DOMAINS
from fan_det.results import CocoOResult, RobustnessResult

CONFIG = "configs/tiny/retinanet_fan_tiny_hybrid_synth.yaml"
DATASET = "fan_synth_val_mini"
SMALL = ["INPUT.MIN_SIZE_TEST", "64", "INPUT.MAX_SIZE_TEST", "96"]
OTHER_MODEL = {"name": "someone else's detector", "backbone": "R-50", "config_sha256": "c" * 64,
               "weights_sha256": "w" * 64, "random_init": False}


def other_robustness(dataset: str) -> dict:
    rng = np.random.default_rng(7)
    cells = [{"corruption": c, "severity": s, "num_images": 16, "seconds": 0.1,
              "stats": {"bbox": {"AP": float(rng.uniform(1, 30))}}} for c, s in (("clean", 0), ("fog", 1))]
    return RobustnessResult.build(model=OTHER_MODEL, dataset={"name": dataset, "num_images": 16},
                                  protocol={"seed": 0}, cells=cells, allow_partial=True,
                                  provenance={"command": "x"}).doc


def other_coco_o() -> dict:
    domains = {d: {"num_images": 4, "seconds": 0.1, "stats": {"bbox": {"AP": 3.0 + i}}}
               for i, d in enumerate(COCO_O_DOMAINS)}
    return CocoOResult.build(model=OTHER_MODEL, dataset={"name": "COCO-O"}, domains=domains,
                             provenance={"command": "x"}).doc


@pytest.fixture
def evaluations(monkeypatch) -> list[str]:
    """Stand-ins for the evaluation itself (inference onwards): they record that it was reached."""
    reached: list[str] = []
    from fan_det.robustness import job as job_module

    tools = {"CocoCJob": "coco_c", "CocoOJob": "coco_o"}
    monkeypatch.setattr(job_module, "run_job", lambda job, model: reached.append(tools[type(job).__name__]))
    return reached


def refusal(capsys) -> str:
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


def check_one_rule(tool, argv, out, file_name, capsys, evaluations, name) -> None:
    before = (out / file_name).read_bytes()
    with pytest.raises(SystemExit) as info:
        tool(argv)
    line = refusal(capsys)
    assert info.value.code == 2 and evaluations == [], line
    # eval_ood's words, here too
    assert (f"{out / file_name} holds results of model \"someone else's detector\" with another model; "
            "rerun with --overwrite to replace it, or give each model its own --out folder") in line
    assert (out / file_name).read_bytes() == before
    tool(["--overwrite", *argv])
    assert evaluations == [name]


def test_eval_coco_c_refuses_another_models_folder_unless_overwrite(tmp_path, capsys, evaluations):
    out = tmp_path / "runs"
    out.mkdir()
    (out / "robustness.json").write_text(json.dumps(other_robustness(DATASET)))
    argv = ["--config", CONFIG, "--random-init", "--dataset", DATASET, "--corruptions", "fog", "--severities",
            "1", "--allow-partial", "--workers", "0", "--out", str(out), *SMALL]
    check_one_rule(eval_coco_c, argv, out, "robustness.json", capsys, evaluations, "coco_c")


def test_eval_coco_o_refuses_another_models_folder_unless_overwrite(tmp_path, capsys, evaluations):
    out = tmp_path / "runs"
    out.mkdir()
    (out / "coco_o.json").write_text(json.dumps(other_coco_o()))
    argv = ["--config", CONFIG, "--random-init", "--coco-o-root", str(build_tiny_coco_o_set()),
            "--domains", "sketch", "--workers", "0", "--out", str(out), *SMALL]
    check_one_rule(eval_coco_o, argv, out, "coco_o.json", capsys, evaluations, "coco_o")
