"""Promises of ``python -m fan_det.train`` on bad input: exit status 2 and one ``error:`` line naming the
fix, never a traceback, never a start from random weights."""

from __future__ import annotations

import timm
import torch
from reliability_train_helpers import FAST, TINY, error_lines, refusal, run_train

import fan_det  # noqa: F401  (registers the FAN variants in timm)


def test_unknown_override_key_names_it_and_the_nearest_valid_key(capsys):
    line = refusal(capsys, ["--config", TINY, "SOLVER.BASE_LRR", "0.1"])
    assert line == "error: unknown config key SOLVER.BASE_LRR in the overrides (did you mean SOLVER.BASE_LR?)"


def test_unknown_key_in_a_config_file_names_it_the_file_and_the_nearest_key(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(f'_BASE_: "{TINY}"\nSOLVER:\n  LAYER_DECAYY: 0.7\n')
    line = refusal(capsys, ["--config", str(bad)])
    assert line == (f"error: unknown config key SOLVER.LAYER_DECAYY in {bad} "
                    "(did you mean SOLVER.LAYER_DECAY?)")


def test_missing_config_file_is_named(capsys, tmp_path):
    line = refusal(capsys, ["--config", str(tmp_path / "absent.yaml")])
    assert f"no config file at {tmp_path / 'absent.yaml'}" in line


def test_override_without_value_is_refused(capsys):
    assert "KEY VALUE pairs" in refusal(capsys, ["--config", TINY, "SOLVER.MAX_ITER"])


def test_override_of_the_wrong_type_names_the_key(capsys):
    line = refusal(capsys, ["--config", TINY, "SOLVER.MAX_ITER", "many"])
    assert line.startswith("error: bad config override:") and "SOLVER.MAX_ITER" in line


def test_missing_weights_file_is_named(capsys, tmp_path):
    line = refusal(capsys, ["--config", TINY, "MODEL.WEIGHTS", str(tmp_path / "absent.pth")])
    assert f"MODEL.WEIGHTS {tmp_path / 'absent.pth'} does not exist" in line


def test_eval_only_without_weights_is_refused(capsys, tmp_path):
    line = refusal(capsys, ["--config", TINY, "--eval-only", "OUTPUT_DIR", str(tmp_path)])
    assert "--eval-only needs weights" in line


def _eval_only(capsys, tmp_path, weights) -> str:
    return refusal(capsys, ["--config", TINY, "--eval-only", "MODEL.WEIGHTS", str(weights),
                            "OUTPUT_DIR", str(tmp_path / "out")])


def test_garbage_empty_and_text_files_are_not_checkpoints(capsys, tmp_path):
    for name, content in (("garbage.pth", b"\x80\x02garbage\x00\xff"), ("empty.pth", b""),
                          ("text.pth", b"weights: none\n")):
        path = tmp_path / name
        path.write_bytes(content)
        line = _eval_only(capsys, tmp_path, path)
        assert f"{path} is not a PyTorch checkpoint" in line
        assert "weights_only" not in line


def test_checkpoint_with_python_objects_is_refused_without_suggesting_unsafe_loading(capsys, tmp_path):
    path = tmp_path / "objects.pth"
    torch.save({"model": {"w": torch.zeros(1)}, "args": range(3)}, path)
    line = _eval_only(capsys, tmp_path, path)
    assert "holds a Python object (range)" in line and "could run code" in line
    assert "weights_only" not in line


def test_checkpoint_with_non_tensor_entries_names_the_entry(capsys, tmp_path):
    path = tmp_path / "strings.pth"
    torch.save({"model": {"backbone.w": torch.zeros(1), "note": "trained by hand"}}, path)
    line = _eval_only(capsys, tmp_path, path)
    assert "entry 'note' is a str, not a tensor" in line


def test_classifier_weights_under_a_detector_config_are_refused_with_key_counts(capsys, tmp_path):
    path = tmp_path / "fan_classifier.pth"
    state = timm.create_model("fan_tiny_8_p4_hybrid").state_dict()
    torch.save(state, path)
    line = _eval_only(capsys, tmp_path, path)
    assert f"{path} does not fit the model:" in line
    assert f"; {len(state)} unexpected (e.g. cls_token, " in line and "; 0 wrong shape;" in line
    assert "--allow-partial-weights" in line


def test_training_with_foreign_weights_exits_2_without_a_traceback(tmp_path):
    path = tmp_path / "fan_classifier.pth"
    torch.save(timm.create_model("fan_tiny_8_p4_hybrid").state_dict(), path)
    proc = run_train(["--config", TINY, *FAST, "SOLVER.MAX_ITER", "1", "MODEL.WEIGHTS", str(path),
                      "OUTPUT_DIR", str(tmp_path / "out")])
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(error_lines(proc.stderr)) == 1 and "does not fit the model" in proc.stderr
    assert not (tmp_path / "out" / "model_final.pth").exists()
