"""docs/coco_c.md lists every option of build_coco_c, and --help shows every default."""

import re
from pathlib import Path

from fan_det.build_coco_c import make_parser

DOC = Path(__file__).resolve().parents[2] / "docs" / "coco_c.md"


def options():
    return [a for a in make_parser()._actions if a.option_strings and "--help" not in a.option_strings]


def test_the_options_table_lists_every_option():
    table = {m.group(1) for m in re.finditer(r"^\| `(--[a-z-]+)", DOC.read_text(), re.MULTILINE)}
    assert table == {a.option_strings[0] for a in options()}


def test_help_shows_every_default():
    parser = make_parser()
    formatter = parser.formatter_class(parser.prog)
    for action in options():
        if not action.required:
            assert "(default: " in formatter._get_help_string(action), action.option_strings[0]
    shown = " ".join(parser.format_help().split())
    assert "(default: the cores this process may use; under torchrun, its share of them)" in shown
