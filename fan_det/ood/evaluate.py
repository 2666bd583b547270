"""The evaluation loop: a dataset in, per-image outcomes out (a few bytes per image, not logits).

Outcomes are ``{"index", "target", "top1", "top5"}`` plus, for each class subset asked for,
``"<subset>/top1"``, ``"<subset>/top5"``, ``"<subset>/confidence"``, ``"<subset>/valid"``: enough for
every metric in ``ood.json`` and small enough to gather across processes and to cache.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import torch
from detectron2.data.samplers import InferenceSampler
from detectron2.utils import comm
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from fan_det.metrics.classification import masked_outcomes, topk_correct
from fan_det.ood.distributed import merge_shards
from fan_det.ood.image_folders import ClassImageFolder, collate_skipping
from fan_det.ood.synsets import NUM_CLASSES
from fan_det.runtime.finite import check_finite
from fan_det.runtime.unreadable import SKIP_BAD, skipping_message, unreadable_message


class UnreadableImageError(RuntimeError):
    """Raised under ``strict`` (the default: no ``--skip-bad``) when an image cannot be read."""


@dataclass
class Outcomes:
    """Per-image outcomes of one dataset (sorted by sample index) and the images skipped."""

    arrays: dict[str, np.ndarray]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, error)

    @property
    def num_images(self) -> int:
        return int(self.arrays["index"].size)


def logits_of(output: object) -> torch.Tensor:
    """The logits of a forward pass: the tensor itself, or the first element of a tuple or list (the
    ``(logits, aux)`` convention of models with auxiliary outputs); anything else is refused."""
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    if isinstance(output, torch.Tensor):
        return output
    raise ValueError(f"the model returned {type(output).__name__}, not logits: it must return an (N, "
                     f"{NUM_CLASSES}) tensor of ImageNet-1k logits, or a tuple whose first element is one")


def outcomes_from_logits(logits: torch.Tensor, targets: torch.Tensor,
                         subsets: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Per-image outcome arrays of one batch (see module docstring)."""
    if logits.ndim != 2 or logits.shape[1] != NUM_CLASSES:
        raise ValueError(f"the model must output (N, {NUM_CLASSES}) ImageNet-1k logits, "
                         f"got {tuple(logits.shape)}")
    logits, targets = logits.float().cpu().numpy(), targets.cpu().numpy()  # float32 holds bf16 exactly
    top = topk_correct(logits, targets, (1, 5))
    out = {"target": targets, "top1": top[1], "top5": top[5]}
    for name, indices in (subsets or {}).items():
        for key, value in masked_outcomes(logits, targets, indices, (1, 5)).items():
            out[f"{name}/{key}"] = value
    return out


def _empty(subsets: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = {"index": np.zeros(0, np.int64), "target": np.zeros(0, np.int64),
           "top1": np.zeros(0, bool), "top5": np.zeros(0, bool)}
    for name in subsets:
        out.update({f"{name}/top1": np.zeros(0, bool), f"{name}/top5": np.zeros(0, bool),
                    f"{name}/confidence": np.zeros(0, np.float32), f"{name}/valid": np.zeros(0, bool)})
    return out


def evaluate(model: nn.Module, dataset: ClassImageFolder, *, subsets: Mapping[str, np.ndarray] | None = None,
             batch_size: int = 64, workers: int = 4, amp: bool = False, strict: bool = False,
             device: torch.device | str = "cpu", desc: str = "eval", model_name: str = "") -> Outcomes:
    """Evaluate this rank's shard of ``dataset`` and gather every rank's outcomes (all ranks get them).

    Non-finite logits raise ``NonFiniteOutputError`` naming ``model_name``, ``desc`` and the batch."""
    device = torch.device(device)
    subsets = dict(subsets or {})
    sampler = InferenceSampler(len(dataset))
    loader = DataLoader(dataset, sampler=sampler, batch_size=batch_size, num_workers=workers,
                        collate_fn=collate_skipping, pin_memory=device.type == "cuda")
    amp_dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    parts, skipped = [_empty(subsets)], []
    model.to(device).eval()
    with torch.inference_mode(), tqdm(total=len(sampler), desc=desc, unit="img",
                                      disable=not comm.is_main_process(), dynamic_ncols=True,
                                      leave=False) as bar:
        for number, batch in enumerate(loader, 1):
            for index, error in batch.skipped:
                path = dataset.samples[index][0]
                if strict:
                    raise UnreadableImageError(unreadable_message(path, error))
                tqdm.write(skipping_message(path, error))
                skipped.append((index, error))
            if batch.images is not None:
                images = batch.images.to(device, non_blocking=True)
                with torch.autocast(device.type, dtype=amp_dtype, enabled=amp):
                    logits = logits_of(model(images)).float()
                check_finite(logits, what="logits", model=model_name or type(model).__name__, dataset=desc,
                             batch=number)
                out = outcomes_from_logits(logits, batch.targets.to(device), subsets)
                out["index"] = batch.indices.numpy()
                parts.append(out)
            bar.update(len(batch.targets) + len(batch.skipped))
    mine = ({k: np.concatenate([p[k] for p in parts]) for k in parts[0]}, skipped)
    gathered = comm.all_gather(mine)
    all_skipped = sorted(item for _, s in gathered for item in s)
    arrays = merge_shards([a for a, _ in gathered], len(dataset), [i for i, _ in all_skipped])
    return Outcomes(arrays, [(dataset.samples[i][0], error) for i, error in all_skipped])


def refuse_skipped_under_strict(outcomes: Outcomes) -> None:
    """A cached result that skipped images does not count without ``--skip-bad``: refuse it as a fresh run
    would, whichever run skipped them."""
    if outcomes.skipped:
        path, error = outcomes.skipped[0]
        raise UnreadableImageError(unreadable_message(path, error, f"{SKIP_BAD}; {len(outcomes.skipped)} "
                                                                   "unreadable in all"))
