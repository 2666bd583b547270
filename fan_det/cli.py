"""What every command-line tool shares: one-line refusals and the same spellings for shared options."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn


class UsageError(ValueError):
    """A refusal to show the user as one ``error:`` line (the message names the fix)."""


def fail(message: str, status: int = 2) -> NoReturn:
    """Print ``error: <message>`` on stderr and exit (2: the input was refused)."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(status)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows every default, keeps the examples' line breaks."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.required or "(default:" in (action.help or ""):  # said in words already, or none
            return action.help
        return super()._get_help_string(action)


def add_run_arguments(parser: argparse.ArgumentParser, *, default_out: str) -> None:
    """``--name``, ``--seed``, ``--out`` and ``--workers``: the same spelling and meaning in every tool."""
    parser.add_argument("--name", default=None,
                        help="model name in the results and the report (default: derived from the model)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the corruptions and of a random initialisation")
    parser.add_argument("--out", default=default_out, metavar="DIR", help="output folder")
    parser.add_argument("--workers", type=int, default=None,
                        help="data-loading worker processes per process (default: the tool's own)")


def add_backbone_argument(parser: argparse.ArgumentParser) -> None:
    """``--backbone``: what the report's one-row-per-backbone table joins detection and classification on."""
    parser.add_argument("--backbone", default=None,
                        help="backbone name recorded with the results, so the report puts the detector and "
                             "the classifiers of one backbone in one row, e.g. fan_small_12_p4_hybrid "
                             "(default: the config's FAN variant, R-<depth> for ResNets)")


def add_bootstrap_argument(parser: argparse.ArgumentParser) -> None:
    """``--bootstrap N``: per-image percentile-bootstrap intervals of the detection numbers."""
    parser.add_argument("--bootstrap", type=int, default=0, metavar="N",
                        help="95%% intervals from N per-image resamples of the saved detections (no new "
                             "inference; 200 is a sound choice, see docs/metrics.md); 0: no intervals")


def add_launch_arguments(parser: argparse.ArgumentParser) -> None:
    """detectron2's launcher options, spelled as ``detectron2.engine.default_argument_parser`` does."""
    parser.add_argument("--num-gpus", type=int, default=1,
                        help="processes per machine (one per GPU; on the CPU they use gloo)")
    parser.add_argument("--num-machines", type=int, default=1, help="total number of machines")
    parser.add_argument("--machine-rank", type=int, default=0, help="the rank of this machine")
    parser.add_argument("--dist-url", default="auto",
                        help="initialisation URL, e.g. tcp://host:port when several machines take part")


def add_threads_argument(parser: argparse.ArgumentParser) -> None:
    """``--threads``: the process's thread budget, shared with its workers (``fan_det.runtime.threads``)."""
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="threads for this process and its workers together, split between them "
                             "(default: the cores this process may use; under torchrun, its share of them)")
