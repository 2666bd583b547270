"""Where checkpoints come from (``checkpoint_file``): a path as given, a timm tag as its published URL,
an http(s) URL downloaded once into ``<cache>/checkpoints/<URL hash>/`` (a ``-<sha256 prefix>.`` in the
name verified), any other scheme through detectron2's PathManager. No test reaches the network:
``download_once`` reads ``file://`` URLs (torch.hub's downloader opens them like any other), and the
http(s) and PathManager routes are followed with their fetchers replaced. Reading never runs code."""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path
from urllib.error import URLError

import pytest
import torch
from detectron2.utils.file_io import PathManager

from fan_det.models.checkpoint import (
    CheckpointFetchError,
    CheckpointNotFoundError,
    checkpoint_file,
    download_once,
    read_checkpoint,
    resolve_source,
)

# fan_det's pretrained config for fan_tiny_12_p16_224: the authors' GitHub release of their weights
FAN_TINY_URL = ("https://github.com/zhoudaquan/fully_attentional_network_ckpt/releases/download/v1.0.0/"
                "fan_vit_tiny.pth.tar")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FAN_DET_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def url_folder(cache: Path, url: str) -> Path:
    """The documented download folder: the first 16 hex digits of the sha256 of the URL as JSON text."""
    return cache / "checkpoints" / hashlib.sha256(json.dumps(url).encode()).hexdigest()[:16]


def random_file(path: Path) -> bytes:
    data = torch.randint(0, 256, (300,), dtype=torch.uint8).numpy().tobytes()
    path.write_bytes(data)
    return data


def test_a_path_is_taken_as_given_with_the_home_folder_expanded(tmp_path, monkeypatch):
    path = tmp_path / "w.pth"
    random_file(path)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert checkpoint_file(str(path)) == path
    assert checkpoint_file(path) == path
    assert checkpoint_file("~/w.pth") == path
    assert resolve_source("~/w.pth") == str(path)


def test_a_folder_is_no_checkpoint_file_even_if_named_like_a_url_scheme(tmp_path, monkeypatch):
    (tmp_path / "weights").mkdir()
    (tmp_path / "run:1").mkdir()  # "run:1" parses as a URL of scheme "run"; it has no "://"
    monkeypatch.chdir(tmp_path)
    for folder in (str(tmp_path / "weights"), "run:1"):
        with pytest.raises(CheckpointNotFoundError) as info:
            checkpoint_file(folder)
        assert str(info.value) == f"no checkpoint file at {folder}"


def test_a_file_url_is_its_local_path(tmp_path):
    local = tmp_path / "my weights.pth"
    random_file(local)
    assert checkpoint_file(local.as_uri()) == local  # "my%20weights.pth" in the URL
    absent = tmp_path / "absent.pth"
    with pytest.raises(CheckpointNotFoundError) as info:
        checkpoint_file(absent.as_uri())
    assert str(info.value) == f"no checkpoint file at {absent}"


def test_an_absent_file_that_is_no_url_nor_timm_tag_is_refused(tmp_path):
    for source in (str(tmp_path / "absent.pth"), "fan_tiny_12_p16_224.no_such_tag"):
        with pytest.raises(CheckpointNotFoundError) as info:
            checkpoint_file(source)
        assert str(info.value) == (f"no checkpoint file at {source}, and it is no URL nor a timm tag with "
                                   "a URL")


def test_a_timm_tag_becomes_its_published_url_and_a_url_stays_as_given():
    assert resolve_source("fan_tiny_12_p16_224") == FAN_TINY_URL
    assert resolve_source("fan_tiny_12_p16_224.in1k") == FAN_TINY_URL
    assert resolve_source("detectron2://x/model.pkl") == "detectron2://x/model.pkl"


def test_a_url_is_downloaded_once_into_the_folder_of_its_hash_with_a_progress_bar(tmp_path, cache, capfd):
    source = tmp_path / "ckpt.pth"
    data = random_file(source)
    url = source.as_uri()
    target = download_once(url)
    assert target == url_folder(cache, url) / "ckpt.pth"
    assert target.read_bytes() == data
    assert "100%" in capfd.readouterr().err  # torch.hub's bar, asked for
    source.unlink()  # a second call downloads nothing
    assert download_once(url) == target and target.read_bytes() == data


def test_a_download_left_without_its_file_is_fetched_again(tmp_path, cache):
    source = tmp_path / "ckpt.pth"
    data = random_file(source)
    url = source.as_uri()
    url_folder(cache, url).mkdir(parents=True)  # a download killed after making its folder
    assert download_once(url).read_bytes() == data


def test_a_sha256_prefix_in_the_name_is_verified(tmp_path, cache):
    data = random_file(tmp_path / "tmp.bin")
    digest = hashlib.sha256(data).hexdigest()
    good = tmp_path / f"ckpt-{digest[:10]}.pth"
    good.write_bytes(data)
    assert download_once(good.as_uri()).read_bytes() == data
    wrong = "0" * 8 if not digest.startswith("0" * 8) else "1" * 8
    bad = tmp_path / f"ckpt-{wrong}.pth"
    bad.write_bytes(data)
    url = bad.as_uri()
    with pytest.raises(CheckpointFetchError) as info:
        download_once(url)
    assert str(info.value) == (f"{url}: the downloaded file's sha256 does not start with {wrong} as its name "
                               "says; the download was corrupt or the file changed: deleted it, rerun to "
                               "download again")
    assert not (url_folder(cache, url) / bad.name).exists()


def test_a_failed_download_names_the_url_and_the_fix(tmp_path, cache):
    url = (tmp_path / "absent.pth").as_uri()
    with pytest.raises(CheckpointFetchError) as info:
        download_once(url)
    message = str(info.value)
    assert message.startswith(f"{url}: download failed (<urlopen error ")
    assert message.endswith("); check the URL or pass a local file")
    assert not (url_folder(cache, url) / "absent.pth").exists()


@pytest.fixture
def fetched(monkeypatch):
    """torch.hub's downloader replaced: it writes the bytes registered for a URL, else fails as offline."""
    served: dict[str, bytes] = {}

    def download(url, dst, progress=True):
        if url not in served:
            raise URLError("offline")
        Path(dst).write_bytes(served[url])

    monkeypatch.setattr(torch.hub, "download_url_to_file", download)
    return served


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_http_and_https_urls_are_downloaded_into_the_cache(tmp_path, cache, fetched, scheme):
    data = random_file(tmp_path / "w.pth")
    url = f"{scheme}://weights.invalid/releases/w.pth"
    bare = f"{scheme}://weights.invalid/"  # a URL without a file name
    fetched[url], fetched[bare] = data, data[::-1]
    assert checkpoint_file(url) == url_folder(cache, url) / "w.pth"
    assert checkpoint_file(url).read_bytes() == data
    assert checkpoint_file(bare) == url_folder(cache, bare) / "checkpoint.pth"
    assert checkpoint_file(bare).read_bytes() == data[::-1]
    with pytest.raises(CheckpointFetchError) as info:
        checkpoint_file(f"{scheme}://weights.invalid/absent.pth")
    assert str(info.value) == (f"{scheme}://weights.invalid/absent.pth: download failed (<urlopen error "
                               "offline>); check the URL or pass a local file")


def test_other_schemes_go_through_pathmanager_and_its_failures_are_named(tmp_path, monkeypatch):
    local = tmp_path / "R-50.pkl"
    random_file(local)
    url = "detectron2://ImageNetPretrained/MSRA/R-50.pkl"

    def get_local_path(path, **kwargs):
        if path != url:
            raise ConnectionError("no route to host")
        return str(local)

    monkeypatch.setattr(PathManager, "get_local_path", get_local_path)
    assert checkpoint_file(url) == local
    other = "detectron2://ImageNetPretrained/MSRA/R-101.pkl"
    with pytest.raises(CheckpointFetchError) as info:
        checkpoint_file(other)
    assert str(info.value) == f"{other}: cannot fetch (ConnectionError: no route to host)"


def test_a_non_tensor_entry_is_named_with_its_type(tmp_path):
    torch.save({"a.weight": torch.randn(2), "b": 3}, tmp_path / "c.pth")
    with pytest.raises(TypeError) as info:
        read_checkpoint(tmp_path / "c.pth")
    assert str(info.value) == "checkpoint entry 'b' is a int, not a tensor"


class Touch:
    """Unpickling this runs code: it creates ``path``."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return Path.touch, (self.path,)


def test_reading_a_checkpoint_never_runs_code_from_it(tmp_path):
    marker = tmp_path / "ran"
    torch.save({"state_dict": {"w": torch.randn(2)}, "extra": Touch(marker)}, tmp_path / "c.pth")
    with pytest.raises((pickle.UnpicklingError, RuntimeError), match="weights_only"):  # torch's refusal
        read_checkpoint(tmp_path / "c.pth")
    assert not marker.exists()
