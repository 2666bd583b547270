"""One rule for every tool's ``--out``: a folder holds one model's results. A rerun of the same model
(same identity, as its kind defines it) may update them; another model's are replaced only under
``overwrite``, never silently."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from fan_det.results.document import ResultDocument, ResultsError


class OutputConflictError(ValueError):
    """The output folder already holds results that are not this model's. The message names the fix;
    ``worded`` names its options (``OPTIONS``) as a caller spells them (the command line: as flags)."""

    OPTIONS = ("overwrite", "out")

    def __init__(self, problem: str, folder: Path):
        self.problem, self.folder = problem, folder
        super().__init__(self.worded(lambda field: field))

    def worded(self, name: Callable[[str], str]) -> str:
        """The message with the options ``overwrite`` and ``out`` named by ``name(field)``."""
        return (f"{self.problem}; rerun with {name('overwrite')} to replace it, or give each model its own "
                f"{name('out')} folder (e.g. {self.folder.parent / 'NAME'})")


def results_of_same_model(kind: type[ResultDocument], out_dir: str | os.PathLike, mine: Mapping,
                          overwrite: bool) -> ResultDocument | None:
    """The ``kind`` document already in ``out_dir`` when it is of the run described by ``mine`` (the new
    document's blocks: ``kind.identity(mine)`` decides); None when there is none or ``overwrite``.

    Raises ``OutputConflictError`` for another model's document or one that cannot be read.
    """
    path = Path(out_dir) / kind.FILE_NAME
    if overwrite or not path.exists():
        return None
    try:
        previous = kind.load(path)
    except ResultsError as exc:
        raise OutputConflictError(str(exc), path.parent) from None
    theirs, ours = kind.identity(previous.doc), kind.identity(mine)
    if theirs != ours:
        differing = [k for k in ours if theirs.get(k) != ours[k]]
        raise OutputConflictError(f"{path} holds results of model {previous.model_name!r} with another "
                                  f"{' and '.join(differing)}", path.parent)
    return previous
