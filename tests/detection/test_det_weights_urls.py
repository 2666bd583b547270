"""A detector checkpoint named by URL goes to detectron2's PathManager (which downloads it), not to the
"no weights file" refusal meant for paths; a refusal then names the URL. Starting from scratch (no
weights) leaves no key report. PathManager's fetch is replaced by a map of URLs to local files."""

from __future__ import annotations

import pickle

import pytest
import torch
import torch.nn as nn
from detectron2.utils.file_io import PathManager

from fan_det.detection.weights import StrictDetectionCheckpointer, WeightsError, load_detector_weights


@pytest.fixture
def served(monkeypatch):
    """URL -> local file, through PathManager as fvcore's checkpointer calls it."""
    files: dict[str, str] = {}

    def get_local_path(path, **kwargs):
        if path not in files:
            raise ConnectionError(f"no route to {path}")
        return files[path]

    monkeypatch.setattr(PathManager, "get_local_path", get_local_path)
    return files


def test_a_url_is_fetched_and_loaded_not_refused_as_a_missing_file(tmp_path, served):
    source = nn.Linear(3, 2)
    torch.save({"model": source.state_dict()}, tmp_path / "retina.pth")
    url = "https://weights.invalid/retina.pth"
    served[url] = str(tmp_path / "retina.pth")
    target = nn.Linear(3, 2)
    assert load_detector_weights(target, url).ok
    assert torch.equal(target.weight, source.weight) and torch.equal(target.bias, source.bias)


def test_a_refusal_of_a_urls_file_names_the_url(tmp_path, served):
    (tmp_path / "zoo.pkl").write_bytes(pickle.dumps([1, 2], protocol=2))
    url = "detectron2://ImageNetPretrained/zoo.pkl"
    served[url] = str(tmp_path / "zoo.pkl")
    with pytest.raises(WeightsError) as info:
        load_detector_weights(nn.Linear(2, 2), url)
    assert str(info.value) == f"{url} holds a list, not a dict of weights"


def test_a_path_that_is_no_file_is_refused_with_the_fix(tmp_path):
    path = str(tmp_path / "absent.pth")
    with pytest.raises(WeightsError) as info:
        load_detector_weights(nn.Linear(2, 2), path)
    assert str(info.value) == (f"no weights file at {path}: give MODEL.WEIGHTS an existing checkpoint "
                               "(or '' to start from scratch)")


def test_no_key_report_before_a_load_nor_after_starting_from_scratch():
    checkpointer = StrictDetectionCheckpointer(nn.Linear(2, 2))
    assert checkpointer.last_report is None
    assert checkpointer.load("") == {}
    assert checkpointer.last_report is None
