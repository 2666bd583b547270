"""eval_coco_c loads every parameter of a checkpoint or refuses it: one ``error:`` line, exit 2, no
results file; never a quiet evaluation of a half-loaded model."""

import subprocess
import sys

import pytest
import timm
import torch

import fan_det.models  # noqa: F401  (registers the FAN family with timm)
from fan_det.eval_coco_c import main
from fan_det.paths import REPO_ROOT
from fan_det.results import RobustnessResult

CONFIG = str(REPO_ROOT / "configs" / "tiny" / "retinanet_fan_tiny_hybrid_synth.yaml")
SMALL = ["INPUT.MIN_SIZE_TEST", "64", "INPUT.MAX_SIZE_TEST", "96"]


def _args(weights, out):
    return ["--config", CONFIG, "--weights", str(weights), "--dataset", "fan_synth_val_mini",
            "--corruptions", "fog", "--severities", "1", "--allow-partial", "--workers", "0",
            "--threads", "1", "--out", str(out), *SMALL]


def _refused(capsys, argv) -> str:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    assert "weights_only=False" not in err and "weights_only = False" not in err
    return errors[0]


@pytest.fixture(scope="module")
def classifier_checkpoint(tmp_path_factory):
    """A timm FAN-T-Hybrid ImageNet classifier's state_dict: the trunk of the config, not the detector."""
    path = tmp_path_factory.mktemp("weights") / "fan_tiny_classifier.pth"
    torch.save(timm.create_model("fan_tiny_8_p4_hybrid", num_classes=1000).state_dict(), path)
    return path


def test_classifier_weights_for_a_detector_config_are_refused_with_the_key_report(
        classifier_checkpoint, tmp_path, capsys):
    line = _refused(capsys, _args(classifier_checkpoint, tmp_path / "out"))
    assert str(classifier_checkpoint) in line and "does not fit" in line
    for kind in ("missing", "unexpected"):
        assert f" {kind} (e.g. " in line  # counts and examples of each kind
    assert "patch_embed.backbone.stem.0.weight" in line and "missing (e.g. backbone." in line  # as stored
    assert "--allow-partial" not in line  # an evaluation never loads part of a model
    assert not (tmp_path / "out" / "robustness.json").exists()


def test_the_command_line_prints_one_line_for_a_wrong_checkpoint(classifier_checkpoint, tmp_path):
    command = [sys.executable, "-m", "fan_det.eval_coco_c", *_args(classifier_checkpoint, tmp_path)]
    run = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT)
    assert run.returncode == 2
    assert [line for line in run.stderr.splitlines() if line.startswith("error:")] == \
        [run.stderr.strip().splitlines()[-1]] and "Traceback" not in run.stderr
    assert not (tmp_path / "robustness.json").exists()


@pytest.mark.parametrize("content", [b"", b"model weights, honest\n", bytes(range(256)) * 8,
                                     b"PK\x03\x04not really a zip"], ids=["empty", "text", "garbage", "zip"])
def test_a_file_that_is_no_checkpoint_is_one_error_line(tmp_path, capsys, content):
    weights = tmp_path / "model_final.pth"
    weights.write_bytes(content)
    line = _refused(capsys, _args(weights, tmp_path / "out"))
    assert str(weights) in line
    assert not (tmp_path / "out" / "robustness.json").exists()


def test_a_pickle_that_would_run_code_is_refused_without_running_it(tmp_path, capsys):
    weights = tmp_path / "evil.pth"
    marker = tmp_path / "ran"
    torch.save({"model": _Evil(str(marker))}, weights)
    _refused(capsys, _args(weights, tmp_path / "out"))
    assert not marker.exists()


class _Evil:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_url_that_cannot_be_fetched_is_one_error_line(tmp_path, capsys):
    line = _refused(capsys, _args("http://127.0.0.1:9/model_final.pth", tmp_path / "out"))
    assert "cannot fetch" in line and "http://127.0.0.1:9/model_final.pth" in line


def test_the_detectors_own_checkpoint_loads_whole(tmp_path, capsys):
    from fan_det.robustness.detector import build_eval_model, load_config

    model, _ = build_eval_model(load_config(CONFIG, SMALL), seed=5)
    weights = tmp_path / "model_final.pth"
    torch.save({"model": model.state_dict()}, weights)
    main(_args(weights, tmp_path / "out"))
    doc = RobustnessResult.load(tmp_path / "out" / "robustness.json").doc
    assert doc["model"]["random_init"] is False and doc["model"]["weights"] == str(weights)
    import hashlib

    assert doc["model"]["weights_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
