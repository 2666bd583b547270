"""The manifest a build writes last, when another build of the folder recorded files meanwhile: the same
settings' files that exist are kept and the planned cells are joined; a manifest of other settings means
the folder was taken, refused in one line."""

from __future__ import annotations

import copy
import json

import pytest

import fan_det.corruptions.builder as builder
from fan_det.corruptions import BuildError, build_coco_c, load_images
from fan_det.corruptions.manifest import MANIFEST, write_manifest


@pytest.fixture
def built(small_coco, tmp_path):
    entries = load_images(str(small_coco[0]), small_coco[1], "png")[:1]
    out = tmp_path / "coco_c"
    build_coco_c(entries, out, ("brightness",), (1,), progress=False)
    return out, json.loads((out / MANIFEST).read_text())


def test_a_concurrent_builds_existing_files_and_cells_are_kept(built):
    out, on_disk = built
    ours = copy.deepcopy(on_disk)
    (rel, digest), = ours["files"].items()
    name = rel.rsplit("/", 1)[-1]
    theirs = copy.deepcopy(on_disk)
    theirs["files"] = {f"fog/2/{name}": "a" * 64, f"snow/3/{name}": "b" * 64}
    theirs["cells"] = [["fog", 2], ["snow", 3]]
    (out / "fog" / "2").mkdir(parents=True)
    (out / "fog" / "2" / name).write_bytes(b"written by the other build")  # snow/3 was never written
    write_manifest(out / MANIFEST, theirs)
    builder._write_final(out / MANIFEST, ours)
    final = json.loads((out / MANIFEST).read_text())
    assert final["files"] == {rel: digest, f"fog/2/{name}": "a" * 64}
    assert final["cells"] == [["brightness", 1], ["fog", 2], ["snow", 3]]


def test_a_manifest_of_other_settings_written_meanwhile_is_refused(built):
    out, on_disk = built
    theirs = copy.deepcopy(on_disk)
    theirs["settings"]["seed"] = on_disk["settings"]["seed"] + 1
    write_manifest(out / MANIFEST, theirs)
    with pytest.raises(BuildError) as refused:
        builder._write_final(out / MANIFEST, copy.deepcopy(on_disk))
    assert str(refused.value) == (f"{out / MANIFEST} was rewritten with other settings during this build: "
                                  f"another build writes into {out}; give each build its own --out folder")
    assert json.loads((out / MANIFEST).read_text())["settings"]["seed"] == on_disk["settings"]["seed"] + 1
