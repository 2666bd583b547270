"""The options of a detectron2 evaluation, as one dataclass per tool, and the error that refuses one.

Library code names an option by its field (``{coco_c_root}``) in an ``OptionError``; whoever shows the
error words it: the command line as its flag (``--coco-c-root``), Python callers as the field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fan_det.robustness.scoring import DEFAULT_SCORER


class OptionError(ValueError):
    """An option an evaluation cannot run with; the message says how to fix it and names options as
    ``{field}`` placeholders (only the fields listed in ``options`` are replaced)."""

    def __init__(self, template: str, *options: str):
        self.template, self.options = template, options
        super().__init__(self.worded(lambda field: field))

    def worded(self, name: Callable[[str], str]) -> str:
        """The message with each option named by ``name(field)``."""
        fields = "|".join(map(re.escape, self.options)) or r"(?!)"
        return re.sub(r"\{(" + fields + r")\}", lambda m: name(m.group(1)), self.template)


@dataclass(frozen=True, kw_only=True)
class EvalOptions:
    """What every detectron2 evaluation takes: the model, how to run it, where to write."""

    config: str  # YAML file or detectron2 model-zoo path
    weights: str | None = None  # checkpoint path or URL; None: random initialisation from ``seed``
    seed: int | None = None  # random init (and the tool's own seeds); None: the tool's default
    out: str = "runs"
    overwrite: bool = False  # replace another model's results in ``out`` (else refused)
    workers: int | None = None  # loader workers per process; None: the config's DATALOADER.NUM_WORKERS
    threads: int | None = None  # the process's thread budget; None: the cores it may use
    name: str | None = None  # model name in the results; None: from the config
    backbone: str | None = None  # the report's join key; None: from the config
    bootstrap: int = 0  # per-image percentile-bootstrap resamples; 0: no intervals
    skip_bad: bool = False  # leave unreadable images out and record them (else refused)
    opts: tuple[str, ...] = ()  # config overrides, KEY VALUE pairs
    processes: int = 1  # processes taking part (all machines), recorded in the provenance
    command: str | None = None  # the command line, recorded in the provenance


@dataclass(frozen=True, kw_only=True)
class CocoOptions(EvalOptions):
    """A detector scored by COCO's protocol: which implementation scores it."""

    scorer: str = DEFAULT_SCORER  # faster-coco-eval or pycocotools (``fan_det.robustness.scoring``)


def check_options(options: EvalOptions) -> None:
    """Refuse, before any work, options every detectron2 evaluation shares."""
    if options.workers is not None and options.workers < 0:
        raise OptionError(f"{{workers}} must be 0 or more, got {options.workers}", "workers")
    if options.bootstrap and options.bootstrap < 2:
        raise OptionError(f"{{bootstrap}} must be 0 (no intervals) or at least 2 resamples, got "
                          f"{options.bootstrap}", "bootstrap")
    if len(options.opts) % 2:
        raise OptionError(f"config overrides must be KEY VALUE pairs, got {' '.join(options.opts)}")


def parse_subset(value: str | Sequence[str], known: Sequence[str], what: str, field: str) -> tuple[str, ...]:
    """``all`` or comma-separated names among ``known`` (a release's domains or conditions), in ``known``'s
    order; ``OptionError`` on ``field`` for an unknown or empty choice."""
    names = value.split(",") if isinstance(value, str) else list(value)
    names = [n.strip() for n in names if n.strip()]
    if names == ["all"]:
        return tuple(known)
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise OptionError(f"{{{field}}}: unknown {what}(s) {', '.join(unknown) or '(none given)'}; "
                          f"choose 'all' or some of {', '.join(known)}", field)
    return tuple(n for n in known if n in names)
