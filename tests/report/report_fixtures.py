"""The hand-written result files the report tests read (a module of its own, not conftest)."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
DETECTION = ["det_fan.json", "det_baseline.json", "det_partial.json"]
OOD = ["ood_fan.json", "ood_effnet.json"]


def load_fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())




def displayed(md: str) -> str:
    """Markdown text as a reader sees it once rendered: backslash escapes and HTML entities resolved."""
    return html.unescape(re.sub(r"\\([\\`*_\[\]|#!])", r"\1", md))


def read_md(paths: dict) -> str:
    return displayed(paths["md"].read_text())
