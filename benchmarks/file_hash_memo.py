"""Cost of keying caches on the images' bytes: ``runtime.file_hashes`` on a first run and on a rerun.

Writes ``--files`` random files of ``--kib`` KiB (COCO val's images average about 160 KiB) to a temporary
folder, then times a plain loop of ``sha256_file`` over them (the baseline: what hashing every image on
every run costs), the first ``content_sha256`` (hashes and writes the memo) and a rerun (the memo's
status check only). Prints seconds and the ratios to the baseline. The files sit in the page cache, so
the baseline is the hashing itself, not the disk: a cold disk makes the rerun's advantage larger.

  python benchmarks/file_hash_memo.py                      # 1,000 files of 160 KiB, best of 3
  python benchmarks/file_hash_memo.py --files 5000 --kib 160 --repeats 1
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from fan_det.cli import HelpFormatter
from fan_det.runtime.file_hashes import MEMO_DIR, content_sha256
from fan_det.runtime.hashing import sha256_file
from fan_det.runtime.provenance import machine


def _best(repeats: int, run) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--files", type=int, default=1000, help="files to hash")
    parser.add_argument("--kib", type=int, default=160, help="size of each file in KiB")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per measurement; fastest counts")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder, memo = Path(tmp) / "images", Path(tmp) / "out"
        folder.mkdir()
        files = []
        for i in range(args.files):
            files.append(folder / f"{i:06d}.jpg")
            files[-1].write_bytes(os.urandom(args.kib * 1024))
        baseline = _best(args.repeats, lambda: [sha256_file(f) for f in files])

        def first() -> None:
            for stale in (memo / MEMO_DIR).glob("*.json"):
                stale.unlink()
            content_sha256(files, memo)

        first_run = _best(args.repeats, first)
        rerun = _best(args.repeats, lambda: content_sha256(files, memo))
    print(f"machine: {machine()}")
    print(f"{args.files} files of {args.kib} KiB; best of {args.repeats}")
    print(f"plain sha256 of every file: {baseline:.3f} s")
    print(f"first run (hash + memo):    {first_run:.3f} s  ({first_run / baseline:.2f}x the baseline)")
    print(f"rerun (memo, nothing read): {rerun:.3f} s  ({rerun / baseline:.3f}x the baseline)")


if __name__ == "__main__":
    main()
