"""A model-zoo .pkl that cannot be read is refused in one line naming the file, the error type and the
first line of its message (never a traceback, never an empty reason)."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from fan_det.detection.weights import WeightsError, _first_line, load_detector_weights


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


def test_a_pth_that_is_no_pickle_names_the_loader_error(tmp_path):
    path = tmp_path / "model.pth"
    path.write_bytes(b"\x80\x04h\x00.")
    with pytest.raises(WeightsError) as info:
        load_detector_weights(nn.Linear(2, 2), str(path))
    assert str(info.value) == f"{path} is not a PyTorch checkpoint (torch.load failed with KeyError)"
