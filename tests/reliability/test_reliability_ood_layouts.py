"""ImageNet-V2 folders: the released class-index layout is read by index, a foreign layout is refused."""

from __future__ import annotations

import shutil

from reliability_ood_helpers import TINY, assert_refused, class_folders, run_cli

from fan_det.ood.synsets import imagenet_wnids
from fan_det.results import OODResult


def _index_layout(tmp_path):
    """The same images as ``class_folders`` in wnid folders, renamed to class-index folders."""
    wnid = class_folders(tmp_path / "wnid", {2: 1, 10: 2, 100: 1})
    index = tmp_path / "index"
    for folder in wnid.iterdir():
        shutil.copytree(folder, index / str(imagenet_wnids().index(folder.name)))
    return wnid, index


def test_index_layout_gives_the_wnid_layouts_numbers_and_records_the_variant(tmp_path, capsys):
    wnid, index = _index_layout(tmp_path)
    for name, root in (("w", wnid), ("i", index)):
        code, err = run_cli(["--model", TINY, "--out", str(tmp_path / name), "--v2-variant", "threshold-0.7",
                             "--dataset", f"imagenet-v2={root}"], capsys)
        assert code == 0, err
    w, i = (OODResult.load(tmp_path / n / "ood.json").datasets["imagenet-v2"] for n in ("w", "i"))
    assert (w["layout"], i["layout"]) == ("wnid", "index")
    assert w["variant"] == i["variant"] == "threshold-0.7"
    assert w["metrics"] == i["metrics"] and w["classes_present"] == i["classes_present"] == 3


def test_a_foreign_layout_is_refused(tmp_path, capsys):
    _, index = _index_layout(tmp_path)
    (index / "10").rename(index / "cat")  # e.g. a tree renamed by hand, or ImageFolder's 0..N-1 over names
    code, err = run_cli(["--model", TINY, "--out", str(tmp_path / "o"), "--dataset", f"imagenet-v2={index}"],
                        capsys)
    assert_refused(code, err, "imagenet-v2", "neither all class indices 0..999", "'cat'", "refusing to guess")
    assert not (tmp_path / "o" / "ood.json").exists()


def test_an_unknown_variant_is_a_usage_error(tmp_path, capsys):
    wnid, _ = _index_layout(tmp_path)
    code, err = run_cli(["--model", TINY, "--v2-variant", "v3", "--dataset", f"imagenet-v2={wnid}"], capsys)
    assert code == 2 and "--v2-variant" in err and "matched-frequency" in err


def test_an_empty_folder_is_refused_as_such(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, err = run_cli(["--model", TINY, "--out", str(tmp_path / "o"),
                         "--dataset", f"imagenet-v2={tmp_path / 'empty'}"], capsys)
    assert_refused(code, err, "imagenet-v2", "no class folders")
