"""``--severities`` with an open or backwards range is refused with one line saying so, in every tool."""

import pytest

from fan_det import build_coco_c, eval_coco_c

CASES = [("1-", "both ends"), ("5-1", "runs backwards; write 1-5"), ("-3", "both ends")]


def error_lines(err: str) -> list[str]:
    assert "Traceback" not in err
    return [line for line in err.splitlines() if line.startswith("error:")]


@pytest.mark.parametrize("spec, says", CASES)
def test_eval_coco_c_refuses_a_range_it_cannot_read(tmp_path, capsys, spec, says):
    with pytest.raises(SystemExit) as exit_info:
        eval_coco_c.main(["--config", str(tmp_path / "absent.yaml"), "--random-init", "--severities", spec,
                          "--allow-partial", "--out", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and says in lines[0] and repr(spec) in lines[0], lines


@pytest.mark.parametrize("spec, says", CASES)
def test_build_coco_c_refuses_a_range_it_cannot_read(tmp_path, capsys, spec, says):
    with pytest.raises(SystemExit) as exit_info:
        build_coco_c.main(["--dataset", "x.json", "--out", str(tmp_path), "--severities", spec])
    assert exit_info.value.code == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(lines) == 1 and says in lines[0], lines
