"""Weights that cannot be used are refused in one line naming the file and what it holds (an unreadable
model-zoo .pkl: the error type and the first line of its message; never a traceback, never an empty
reason); a mismatch is one line unless a partial load is asked for, which prints the whole report."""

from __future__ import annotations

import pickle

import pytest
import torch
import torch.nn as nn

from fan_det.detection.weights import WeightsError, _first_line, load_detector_weights, trunk_keys_as_backbone


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "EOFError: Ran out of input"),
    (b"\x80\x04h\x00.", "UnpicklingError: Memo value not found at index 0"),
    (b"\x80\x04cos\nsystem\n.", "UnpicklingError: refusing to load os.system"),
])
def test_an_unreadable_pkl_is_one_line_with_the_reason(tmp_path, data, reason):
    path = tmp_path / "zoo.pkl"
    path.write_bytes(data)
    with pytest.raises(WeightsError) as info:
        load_detector_weights(nn.Linear(2, 2), str(path))
    assert str(info.value) == f"{path} is not a detectron2 model-zoo .pkl of arrays ({reason})"


def test_the_reason_is_the_first_line_or_else_the_error_type():
    assert _first_line(ValueError("  first\nsecond  ")) == "first"
    assert _first_line(KeyError()) == "KeyError"
    assert _first_line(RuntimeError("\n")) == "RuntimeError"


class Anything:
    """A class a weights-only unpickler refuses."""


@pytest.mark.parametrize(("content", "reason"), [
    ({"model": Anything()}, "holds a Python object ({cls}) besides tensors and plain containers; it is "
                            "not loaded, since that could run code: re-save it as "
                            "{{'model': model.state_dict()}}"),
    ([1, 2], "holds a list, not a dict of weights"),
])
def test_a_pth_of_objects_or_no_dict_is_refused_naming_what_it_holds(tmp_path, content, reason):
    path = tmp_path / "model.pth"
    torch.save(content, path)
    with pytest.raises(WeightsError) as info:
        load_detector_weights(nn.Linear(2, 2), str(path))
    cls = f"{Anything.__module__}.Anything"
    assert str(info.value) == f"{path} " + reason.format(cls=cls)


def test_a_pth_of_objects_is_refused_even_when_torchs_default_is_turned_off(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")  # torch then unpickles anything by default
    path = tmp_path / "model.pth"
    torch.save({"model": Anything()}, path)
    with pytest.raises(WeightsError) as info:
        load_detector_weights(nn.Linear(2, 2), str(path))
    assert str(info.value).startswith(f"{path} holds a Python object ({Anything.__module__}.Anything) ")


def test_a_pkl_of_no_dict_is_refused_naming_what_it_holds(tmp_path):
    path = tmp_path / "zoo.pkl"
    path.write_bytes(pickle.dumps([1, 2], protocol=2))
    with pytest.raises(WeightsError) as info:
        load_detector_weights(nn.Linear(2, 2), str(path))
    assert str(info.value) == f"{path} holds a list, not a dict of weights"


def test_a_pth_that_is_no_pickle_names_the_loader_error(tmp_path):
    path = tmp_path / "model.pth"
    path.write_bytes(b"\x80\x04h\x00.")
    with pytest.raises(WeightsError) as info:
        load_detector_weights(nn.Linear(2, 2), str(path))
    assert str(info.value) == f"{path} is not a PyTorch checkpoint (torch.load failed with KeyError)"


def save(tmp_path, checkpoint) -> str:
    path = tmp_path / "model.pth"
    torch.save(checkpoint, path)
    return str(path)


def test_a_model_entry_that_is_no_state_dict_or_holds_no_tensors_is_named(tmp_path):
    path = save(tmp_path, {"model": [1, 2]})
    with pytest.raises(WeightsError) as info:
        load_detector_weights(nn.Linear(2, 2), path)
    assert str(info.value) == f"{path}: its 'model' entry is a list, not a state_dict"
    path = save(tmp_path, {"model": {"weight": "w"}})
    with pytest.raises(WeightsError) as info:
        load_detector_weights(nn.Linear(2, 2), path)
    assert str(info.value) == (f"{path}: entry 'weight' is a str, not a tensor; a checkpoint's 'model' must "
                               "map names to tensors")


def test_prefixed_weights_load_and_stored_anchors_are_not_unexpected(tmp_path):
    source = nn.Linear(2, 2)
    state = {f"module.{k}": v for k, v in source.state_dict().items()}
    state["module.anchor_generator.cell_anchors.0"] = torch.zeros(3, 4)
    target = nn.Linear(2, 2)
    report = load_detector_weights(target, save(tmp_path, {"model": state}))
    assert report.ok
    assert all(torch.equal(target.state_dict()[k], v) for k, v in source.state_dict().items())


def test_a_mismatch_is_refused_in_one_line_naming_the_file_and_the_fix(tmp_path):
    path = save(tmp_path, {"model": {"weight": torch.rand(3, 2)}})
    with pytest.raises(Exception) as info:
        load_detector_weights(nn.Linear(2, 2), path)
    text = str(info.value)
    assert text.startswith(f"{path} does not fit the model: ") and "\n" not in text
    assert text.endswith("; check that config and weights belong together, or allow a partial load "
                         "(--allow-partial-weights)")


class Trunk(nn.Module):
    def __init__(self, nested: bool):
        super().__init__()
        self.backbone = nn.Module()
        if nested:
            self.backbone.bottom_up = nn.Linear(2, 2)
        else:
            self.backbone.layer = nn.Linear(2, 2)


def test_a_detectors_trunk_keys_become_a_bare_trunks_keys_and_nothing_else_changes():
    weight = torch.rand(2, 2)
    state = {"backbone.bottom_up.layer.weight": weight, "head.bias": torch.rand(2)}
    renamed = trunk_keys_as_backbone(Trunk(nested=False), state)
    assert sorted(renamed) == ["backbone.layer.weight", "head.bias"]
    assert renamed["backbone.layer.weight"] is weight and renamed["head.bias"] is state["head.bias"]
    assert trunk_keys_as_backbone(Trunk(nested=True), state) is state
    plain = {"backbone.layer.weight": weight}
    assert trunk_keys_as_backbone(Trunk(nested=False), plain) is plain


def test_no_weights_given_is_one_line():
    with pytest.raises(WeightsError) as info:
        load_detector_weights(nn.Linear(2, 2), "")
    assert str(info.value) == "no weights given: name a checkpoint file or URL"


def test_a_partial_load_when_asked_loads_what_fits_and_prints_the_whole_report(tmp_path, capsys):
    weight = torch.rand(2, 2)
    path = save(tmp_path, {"model": {"weight": weight, "extra": torch.rand(3)}})
    model = nn.Linear(2, 2)
    report = load_detector_weights(model, path, allow_partial=True)
    assert (report.missing, report.unexpected, report.mismatched) == (["bias"], ["extra"], [])
    assert torch.equal(model.weight, weight)
    assert (f"warning: PARTIAL LOAD of {path}: only the keys that fit were loaded, the rest keeps its "
            "initialisation.\ncheckpoint does not match the model: 1 missing, 1 unexpected, 0 wrong shape\n"
            "  missing (in the model, not in the checkpoint):\n    bias\n"
            "  unexpected (in the checkpoint, not in the model):\n    extra\n") in capsys.readouterr().err
