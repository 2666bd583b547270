"""A build removes its own stray temporary files (a killed writer's ``.<name>.<pid>.tmp``) and no one
else's; a stray that vanishes between the listing and the unlink (another shard of the same file list
cleaning up too) is no error."""

from __future__ import annotations

from pathlib import Path

from fan_det.corruptions import build_coco_c, builder, load_images
from fan_det.runtime.atomic import TMP_SUFFIX


def make_strays(out: Path) -> dict[str, Path]:
    cell = out / "fog" / "2"
    cell.mkdir(parents=True)
    strays = {name: cell / f".{name}.{pid}{TMP_SUFFIX}" for name, pid in (("a.png", 11), ("b.png", 12))}
    for path in strays.values():
        path.write_bytes(b"half")
    (cell / "a.png").write_bytes(b"done")
    return strays


def test_only_the_strays_of_wanted_files_are_removed(tmp_path):
    strays = make_strays(tmp_path)
    builder._remove_strays(tmp_path, ["fog/2/a.png"])
    assert not strays["a.png"].exists()
    assert strays["b.png"].read_bytes() == b"half"  # another shard's file: left alone
    assert (tmp_path / "fog" / "2" / "a.png").read_bytes() == b"done"


def test_a_stray_removed_by_another_build_meanwhile_is_no_error(tmp_path, monkeypatch):
    strays = make_strays(tmp_path)
    listed = Path.glob

    def glob_then_race(self, pattern):
        found = list(listed(self, pattern))
        for path in found:  # the other build unlinks after this listing, before this build's unlink
            path.unlink()
        return iter(found)

    monkeypatch.setattr(Path, "glob", glob_then_race)
    builder._remove_strays(tmp_path, ["fog/2/a.png", "fog/2/b.png"])
    assert not any(path.exists() for path in strays.values())


def test_a_build_removes_the_strays_of_its_own_files_only(small_coco, tmp_path):
    entries = load_images(str(small_coco[0]), small_coco[1], "png")[:1]
    cell = tmp_path / "fog" / "2"
    cell.mkdir(parents=True)
    own = cell / f".{entries[0].file}.77{TMP_SUFFIX}"  # left by a killed build of this plan
    other = cell / f".not_planned.png.78{TMP_SUFFIX}"  # another build's, still writing
    own.write_bytes(b"half")
    other.write_bytes(b"half")
    build_coco_c(entries, tmp_path, ("fog",), (2,), progress=False)
    assert not own.exists() and other.read_bytes() == b"half"
    assert (cell / entries[0].file).is_file()
