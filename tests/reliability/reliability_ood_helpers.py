"""Small class-folder sets, a CLI runner and a local HTTP server for eval_ood's promises."""

from __future__ import annotations

import contextlib
import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fan_det.eval_ood import main
from fan_det.ood.synsets import imagenet_wnids

TINY = "fan_det.zoo.tiny_random:build"


def class_folders(root: Path, counts: dict[int, int], seed: int = 0) -> Path:
    """``counts[class index]`` random PNGs under ``root/<wnid>/``."""
    rng = np.random.default_rng(seed)
    for index, count in counts.items():
        folder = root / imagenet_wnids()[index]
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            Image.fromarray(rng.integers(0, 256, (36, 40, 3), dtype=np.uint8)).save(folder / f"im{i}.png")
    return root


def run_cli(args: list[str], capsys) -> tuple[int, str]:
    """Exit status (0 when main returns) and stderr of ``python -m fan_det.eval_ood ARGS``."""
    capsys.readouterr()
    try:
        main(["--workers", "0", "--device", "cpu", *args])
        code = 0
    except SystemExit as e:
        code = e.code
    return code, capsys.readouterr().err


def assert_refused(code: int, err: str, *needles: str) -> None:
    """Exit 2 with one ``error:`` line naming the fix; no traceback, no advice to load unsafe pickles."""
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err and "weights_only=False" not in err and "weights_only" not in lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep the test output clean
        pass


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve ``folder`` over HTTP on 127.0.0.1; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh ``$FAN_DET_CACHE`` (where downloaded checkpoints go)."""
    monkeypatch.setenv("FAN_DET_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"
