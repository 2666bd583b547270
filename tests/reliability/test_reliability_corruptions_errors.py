"""Inputs the COCO-C builder cannot use are refused with one `error:` line and exit status 2."""

import json

import pytest
from reliability_corruptions_helpers import build_args, make_coco

from fan_det.build_coco_c import main


def one_error_line(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert "Traceback" not in captured.err
    return lines[0]


@pytest.mark.parametrize("content, says", [
    ([{"id": 1, "file_name": "im000.png"}], "is not a COCO json"),
    ({"images": [{"id": 1, "path": "im000.png"}]}, "lacks \"id\" or \"file_name\""),
    ({"images": "im000.png"}, "is not a COCO json"),
    ({"annotations": []}, "is not a COCO json"),
])
def test_a_json_that_is_not_coco_is_refused(tmp_path, capsys, content, says):
    _, images = make_coco(tmp_path / "src", count=1)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(content))
    assert main(build_args(bad, images, tmp_path / "out")) == 2
    line = one_error_line(capsys)
    assert str(bad) in line and says in line


def test_out_that_is_a_file_is_refused(tmp_path, capsys):
    json_path, images = make_coco(tmp_path / "src", count=1)
    out = tmp_path / "taken"
    out.write_text("not a folder")
    assert main(build_args(json_path, images, out)) == 2
    assert "is a file" in one_error_line(capsys)
    assert out.read_text() == "not a folder"
    assert main(["--out", str(out), "--verify"]) == 2
    assert "not a folder" in one_error_line(capsys)
    assert main(["--out", str(out), "--merge", str(tmp_path / "src")]) == 2
    assert "is a file" in one_error_line(capsys)


def test_verify_of_a_folder_without_manifest_is_refused(tmp_path, capsys):
    assert main(["--out", str(tmp_path), "--verify"]) == 2
    assert "has no manifest.json" in one_error_line(capsys)
