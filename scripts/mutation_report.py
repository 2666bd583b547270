"""Killed fraction per mutated module after `mutmut run` (`make mutation`), from mutmut's records.

Reads ``mutants/**/*.py.meta`` (mutmut's exit code per mutant: 1 or 3 killed, 0 survived, 33 or 5 no
test ran it, 36 / +-24 / 152 / 255 timeout), prints one Markdown row per module and the survivors'
names (``mutmut show NAME`` prints a survivor's diff). Timeouts count as killed, as mutmut counts them.
Exit status 1 when any mutant was not checked.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

KILLED = {1, 3, 36, 24, -24, 152, 255}
SURVIVED = {0}
NO_TESTS = {5, 33}


def module_counts(meta: Path) -> tuple[Counter, list[str]]:
    codes = json.loads(meta.read_text())["exit_code_by_key"]
    counts: Counter = Counter()
    survivors = []
    for name, code in sorted(codes.items()):
        status = ("killed" if code in KILLED else "survived" if code in SURVIVED
                  else "no tests" if code in NO_TESTS else "not checked" if code is None else "other")
        counts[status] += 1
        if status in ("survived", "no tests"):
            survivors.append(name)
    return counts, survivors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mutants", default="mutants", help="mutmut's working folder (default: %(default)s)")
    args = parser.parse_args(argv)
    metas = sorted(Path(args.mutants).glob("**/*.py.meta"))
    if not metas:
        print(f"error: no mutmut results under {args.mutants}/: run `make mutation` first", file=sys.stderr)
        return 2
    print("| module | killed / mutants | killed | survived | no test ran it |")
    print("|---|---|---|---|---|")
    total: Counter = Counter()
    all_survivors = []
    for meta in metas:
        counts, survivors = module_counts(meta)
        mutants = sum(counts.values())
        if not mutants:
            continue
        module = meta.relative_to(args.mutants).as_posix().removesuffix(".meta")
        print(f"| `{module}` | {counts['killed']} / {mutants} | {100 * counts['killed'] / mutants:.1f}% | "
              f"{counts['survived']} | {counts['no tests']} |")
        total += counts
        all_survivors += survivors
    mutants = sum(total.values())
    print(f"| all | {total['killed']} / {mutants} | {100 * total['killed'] / mutants:.1f}% | "
          f"{total['survived']} | {total['no tests']} |")
    if all_survivors:
        print("\nsurvivors (`mutmut show NAME`):\n" + "\n".join(all_survivors))
    return 1 if total["not checked"] or total["other"] else 0


if __name__ == "__main__":
    sys.exit(main())
