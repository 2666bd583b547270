"""A COCO-C folder's record files: their names (a shard's own manifest and journal), and reading them:
absent, unreadable, of another schema, lacking a section, or a folder with no manifest or only shards;
each refusal one line naming the file and the fix. Writing one: the same bytes for the same content.
A journal cut by a kill: the lines a rerun appends are still read."""

from __future__ import annotations

import json

import pytest

from fan_det.corruptions.manifest import (
    BuildError,
    journal_name,
    load_manifest_file,
    manifest_name,
    read_manifest,
    replay_journal,
    write_manifest,
)

SCHEMA = "fan_det.coco_c_manifest/2"  # the documented schema name


def test_a_shard_keeps_its_own_manifest_and_journal():
    assert (manifest_name(), journal_name()) == ("manifest.json", ".journal.jsonl")
    assert (manifest_name((1, 3)), journal_name((1, 3))) == ("manifest.shard-1-of-3.json",
                                                             ".journal.shard-1-of-3.jsonl")


def whole(**changes) -> dict:
    return {"schema": SCHEMA, "settings": {"seed": 3}, "versions": {}, "images": {}, "files": {},
            "skipped": {}, **changes}


def test_a_manifest_is_read_whole_and_an_absent_one_is_none(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps(whole()))
    assert load_manifest_file(tmp_path / "manifest.json") == whole()
    assert read_manifest(tmp_path) == whole()
    assert load_manifest_file(tmp_path / "absent.json") is None


@pytest.mark.parametrize(("text", "reason"), [
    ("{", "is unreadable (Expecting property name enclosed in double quotes: line 1 column 2 (char 1)): "
          "delete the folder and rebuild it"),
    ("[]", f"is not a {SCHEMA} manifest (found 'list'): rebuild it in another folder"),
    (json.dumps(whole(schema="fan_det.coco_c_manifest/1")),
     f"is not a {SCHEMA} manifest (found 'fan_det.coco_c_manifest/1'): rebuild it in another folder"),
    (json.dumps({"settings": {}}), f"is not a {SCHEMA} manifest (found None): rebuild it in another folder"),
    (json.dumps(whole(files=[], skipped=None)), "lacks files, skipped: rebuild it in another folder"),
])
def test_a_manifest_that_cannot_be_used_is_one_line(tmp_path, text, reason):
    path = tmp_path / "manifest.json"
    path.write_text(text)
    with pytest.raises(BuildError) as info:
        load_manifest_file(path)
    assert str(info.value) == f"{path} {reason}"


def test_a_folder_without_a_manifest_says_how_to_build_or_merge_it(tmp_path):
    refusals = []
    for root in (tmp_path / "absent", tmp_path):
        with pytest.raises(BuildError) as info:
            read_manifest(root)
        refusals.append(str(info.value))
    (tmp_path / "manifest.shard-0-of-2.json").write_text(json.dumps(whole()))
    with pytest.raises(BuildError) as info:
        read_manifest(tmp_path)
    build = "build it with python -m fan_det.build_coco_c --out"
    assert refusals == [f"{tmp_path / 'absent'} is not a folder: {build} {tmp_path / 'absent'}",
                        f"{tmp_path} has no manifest.json: {build} {tmp_path}"]
    assert str(info.value) == (f"{tmp_path} holds shards of an unmerged build: merge them with python -m "
                               f"fan_det.build_coco_c --out {tmp_path} --merge {tmp_path}")


def test_a_manifest_is_written_with_sorted_keys_one_space_indents_and_a_final_newline(tmp_path):
    write_manifest(tmp_path / "a.json", {"files": {"b": "2", "a": "1"}, "cells": [["fog", 1]]})
    write_manifest(tmp_path / "b.json", {"cells": [["fog", 1]], "files": {"a": "1", "b": "2"}})
    expected = '{\n "cells": [\n  [\n   "fog",\n   1\n  ]\n ],\n "files": {\n  "a": "1",\n  "b": "2"\n }\n}\n'
    assert (tmp_path / "a.json").read_text() == (tmp_path / "b.json").read_text() == expected


def test_a_journal_line_cut_by_a_kill_is_skipped_and_the_lines_a_rerun_appends_are_read(tmp_path):
    journal = tmp_path / ".journal.jsonl"
    journal.write_text('{"file": "fog/1/a.png", "sha256": "1"}\n{"file": "fog/1/b.p\n'
                       '{"file": "fog/1/c.png", "sha256": "3"}\n')
    assert list(replay_journal(journal)) == [{"file": "fog/1/a.png", "sha256": "1"},
                                             {"file": "fog/1/c.png", "sha256": "3"}]
    assert list(replay_journal(tmp_path / "absent.jsonl")) == []
