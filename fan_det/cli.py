"""What every command-line tool shares: one-line refusals and the same spellings for shared options."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import NoReturn


class UsageError(ValueError):
    """A refusal to show the user as one ``error:`` line (the message names the fix)."""


def fail(message: str, status: int = 2) -> NoReturn:
    """Print ``error: <message>`` on stderr and exit (2: the input was refused)."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(status)


class ToolParser(argparse.ArgumentParser):
    """Refusals as one ``error:`` line (exit 2) that points at ``--help``, like every other input error."""

    def error(self, message: str) -> NoReturn:
        fail(f"{message} (see {self.prog} --help)")


def add_detector_arguments(parser: argparse.ArgumentParser) -> None:
    """``--config`` and ``--weights`` | ``--random-init``: the detector a tool evaluates."""
    parser.add_argument("--config", required=True,
                        help="YAML config file, or a detectron2 model-zoo path (COCO-Detection/...yaml)")
    weights = parser.add_mutually_exclusive_group(required=True)
    weights.add_argument("--weights", metavar="PATH_OR_URL",
                         help="the detector's checkpoint; every parameter must fit the config")
    weights.add_argument("--random-init", action="store_true",
                         help="evaluate a randomly initialised model (seeded by --seed)")


def add_evaluation_arguments(parser: argparse.ArgumentParser, *, default_out: str, results_file: str,
                             helps: Mapping[str, str] = MappingProxyType({})) -> None:
    """What every detectron2 evaluation (COCO-C, COCO-O, Cityscapes-C, ACDC) takes after its inputs: the
    unreadable-image policy, intervals, the run's name, seed, output and workers, the backbone, then the
    thread budget, the launcher's options and the config overrides. ``results_file``: where skipped images
    are recorded; ``helps``: a tool's own help texts by option dest, as for ``add_run_arguments``."""
    from fan_det.runtime.unreadable import add_unreadable_arguments

    add_unreadable_arguments(parser, results_file)
    add_bootstrap_argument(parser)
    add_run_arguments(parser, default_out=default_out, helps={
        "seed": "seed of a random initialisation and of the bootstrap resamples",
        "workers": "data-loader workers per process; None: the config's DATALOADER.NUM_WORKERS", **helps})
    add_backbone_argument(parser)
    add_threads_argument(parser)
    add_launch_arguments(parser)
    add_config_overrides(parser)


def add_config_overrides(parser: argparse.ArgumentParser) -> None:
    """detectron2's trailing ``KEY VALUE`` config overrides."""
    parser.add_argument("opts", nargs=argparse.REMAINDER, default=[],
                        help="config overrides as KEY VALUE pairs, e.g. INPUT.MIN_SIZE_TEST 512")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows every default, keeps the examples' line breaks."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.required or "(default:" in (action.help or ""):  # said in words already, or none
            return action.help
        return super()._get_help_string(action)


def add_run_arguments(parser: argparse.ArgumentParser, *, default_out: str,
                      helps: Mapping[str, str] = MappingProxyType({})) -> None:
    """``--name``, ``--seed``, ``--out``, ``--overwrite`` and ``--workers``: the same spelling and meaning in
    every tool. ``helps``: a tool's own wording by option dest (``name``, ``seed``, ``out``, ``overwrite``,
    ``workers``)."""
    texts = {"name": "model name in the results and the report (default: derived from the model)",
             "seed": "seed of the corruptions and of a random initialisation",
             "out": "output folder",
             "overwrite": "replace the results of another model (or other settings) in --out",
             "workers": "data-loading worker processes per process (default: the tool's own)", **helps}
    parser.add_argument("--name", default=None, help=texts["name"])
    parser.add_argument("--seed", type=int, default=0, help=texts["seed"])
    parser.add_argument("--out", default=default_out, metavar="DIR", help=texts["out"])
    parser.add_argument("--overwrite", action="store_true", help=texts["overwrite"])
    parser.add_argument("--workers", type=int, default=None, help=texts["workers"])


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


def flag_message(error: Exception) -> str:
    """A library refusal that names options by field (``worded``, e.g. ``OptionError``) with their flags."""
    worded = getattr(error, "worded", None)
    return worded(lambda field: "--" + field.replace("_", "-")) if worded else str(error)


def launch_job(args: argparse.Namespace, run: Callable, job: object, model: object) -> None:
    """``run(job, model)`` here, or once per process through detectron2's ``launch`` (then each process
    builds its own model), as detectron2's tools launch their ``main``."""
    from detectron2.engine import launch

    one = args.num_gpus * args.num_machines == 1
    launch(run, args.num_gpus, num_machines=args.num_machines, machine_rank=args.machine_rank,
           dist_url=args.dist_url, args=(job, model if one else None))


def add_threads_argument(parser: argparse.ArgumentParser) -> None:
    """``--threads``: the process's thread budget, shared with its workers (``fan_det.runtime.threads``)."""
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="threads for this process and its workers together, split between them "
                             "(default: the cores this process may use; under torchrun, its share of them)")


def eval_fields(args: argparse.Namespace, prog: str) -> dict:
    """The options every detectron2 evaluation tool parses the same way, as ``EvalOptions`` fields."""
    from fan_det.runtime.provenance import command_line
    from fan_det.runtime.unreadable import skip_bad

    return {"config": args.config, "weights": None if args.random_init else args.weights, "seed": args.seed,
            "out": args.out, "overwrite": args.overwrite, "workers": args.workers, "threads": args.threads,
            "name": args.name,
            "backbone": args.backbone, "bootstrap": args.bootstrap, "opts": tuple(args.opts),
            "processes": args.num_gpus * args.num_machines, "command": command_line(prog),
            "skip_bad": skip_bad(args)}
