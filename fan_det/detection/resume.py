"""Exact resume: the training data stream and random state as checkpointable state.

detectron2's training loader draws its order from a generator and its augmentations from each worker's
random stream; neither is in a checkpoint, so a resumed run sees other images than an uninterrupted one.
Here the order is a pure function of ``(seed, position)`` (a permutation per epoch), each sample is
mapped under random generators seeded from ``(seed, position)`` (so the worker count and the order in
which workers run do not matter either), and a hook stores in every checkpoint, through detectron2's
hook state, per process: the seed, the next stream position, the samples waiting in the aspect-ratio
buckets, the Python / numpy / torch random states, and the running averages dense detectors keep outside
their state dict (RetinaNet's loss normaliser). Resumed with the same config on the same number of
processes, a CPU run equals an uninterrupted one bit for bit.
"""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from detectron2.engine import HookBase
from detectron2.modeling.meta_arch.dense_detector import DenseDetector
from detectron2.utils import comm
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

logger = logging.getLogger("detectron2.fan_det")


def derived_seed(seed: int, purpose: int, number: int) -> int:
    """A seed for item ``number`` of one ``purpose`` (0: an epoch's order, 1: a sample's augmentation)
    of a run seeded with ``seed``; distinct inputs give independent streams."""
    return int(np.random.SeedSequence([seed, purpose, number]).generate_state(1)[0])


@contextlib.contextmanager
def preserved_random_state() -> Iterator[None]:
    """Run a block without disturbing the process's Python, numpy and torch random streams."""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    try:
        with torch.random.fork_rng(devices=devices):
            yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)


@contextlib.contextmanager
def seeded_random_state(seed: int) -> Iterator[None]:
    """Python, numpy and torch's CPU generator seeded with ``seed`` inside; the caller's states after."""
    with preserved_random_state():
        random.seed(seed)
        np.random.seed(seed)
        torch.default_generator.manual_seed(seed)
        yield


class PositionedOrder:
    """Which dataset index sits at each position of an endless stream: a fresh permutation per epoch."""

    def __init__(self, size: int, seed: int, shuffle: bool = True):
        if size <= 0:
            raise ValueError("the training set is empty")
        self.size, self.seed, self.shuffle = size, seed, shuffle
        self._epoch, self._permutation = -1, torch.arange(size)

    def index(self, position: int) -> int:
        epoch, offset = divmod(position, self.size)
        if self.shuffle and epoch != self._epoch:
            generator = torch.Generator().manual_seed(derived_seed(self.seed, 0, epoch))
            self._epoch, self._permutation = epoch, torch.randperm(self.size, generator=generator)
        return int(self._permutation[offset])


class SeededStream(IterableDataset):
    """One process's mapped training samples from position ``start`` on (positions ``rank::world``).

    Loader workers share the process's positions one by one, so the loader yields them in order; each
    sample carries its ``stream_position``. ``seed`` and ``start`` may be set until iteration begins.
    """

    def __init__(self, dicts: list[dict], mapper: Callable[[dict], dict | None], *, seed: int,
                 rank: int = 0, world_size: int = 1, shuffle: bool = True):
        self.dicts, self.mapper, self.shuffle = dicts, mapper, shuffle
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.start = rank

    def map_at(self, position: int) -> dict | None:
        """The mapped sample at ``position``, the same whichever process or worker maps it."""
        order = PositionedOrder(len(self.dicts), self.seed, self.shuffle)
        return self._map(order, position)

    def _map(self, order: PositionedOrder, position: int) -> dict | None:
        with seeded_random_state(derived_seed(self.seed, 1, position)):
            sample = self.mapper(dict(self.dicts[order.index(position)]))
        if sample is not None:
            sample["stream_position"] = position
        return sample

    def __iter__(self) -> Iterator[dict]:
        worker = get_worker_info()
        worker_id, workers = (worker.id, worker.num_workers) if worker else (0, 1)
        order = PositionedOrder(len(self.dicts), self.seed, self.shuffle)
        step = self.world_size * workers
        position = self.start + worker_id * self.world_size
        while True:
            sample = self._map(order, position)
            if sample is not None:  # a mapper may drop a sample; it is dropped again on resume
                yield sample
            position += step


def _unchanged(batch: Any) -> Any:
    return batch


class ResumableBatches:
    """Batches of ``batch_size`` from a ``SeededStream``, grouped by aspect ratio like detectron2's
    ``AspectRatioGroupedDataset`` (or in arrival order), whose state fits in a checkpoint."""

    def __init__(self, stream: SeededStream, batch_size: int, *, num_workers: int = 0,
                 group_by_aspect: bool = True):
        self.stream, self.batch_size, self.group_by_aspect = stream, batch_size, group_by_aspect
        # its own generator: creating the loader's iterator draws no number from the global stream
        self.loader = DataLoader(stream, batch_size=None, num_workers=num_workers, collate_fn=_unchanged,
                                 generator=torch.Generator().manual_seed(stream.seed))
        self.next_position = stream.start
        self.pending: dict[bool, list[dict]] = {}

    def _bucket(self, sample: dict) -> bool:
        return sample["width"] > sample["height"] if self.group_by_aspect else True

    def __iter__(self) -> Iterator[list[dict]]:
        self.stream.start = self.next_position
        for sample in self.loader:
            self.next_position = sample["stream_position"] + self.stream.world_size
            bucket = self.pending.setdefault(self._bucket(sample), [])
            bucket.append(sample)
            if len(bucket) == self.batch_size:
                self.pending[self._bucket(sample)] = []
                yield bucket

    def state_dict(self) -> dict[str, Any]:
        return {"next_position": self.next_position,
                "pending": [d["stream_position"] for bucket in self.pending.values() for d in bucket]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue after ``state``: the waiting samples are mapped again (identically) into their buckets."""
        self.next_position, self.pending = int(state["next_position"]), {}
        for position in state["pending"]:
            sample = self.stream.map_at(int(position))
            self.pending.setdefault(self._bucket(sample), []).append(sample)


def _random_state() -> dict[str, Any]:
    """This process's random streams as tensors and plain values (a checkpoint is read weights-only)."""
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"python": [version, list(internal), gauss],
             "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
             "torch": torch.get_rng_state()}
    if torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_random_state(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# Running averages that dense detectors (RetinaNet, FCOS) keep as plain attributes, outside state_dict.
_DETECTOR_AVERAGES = ("loss_normalizer",)


def _detector_averages(model: torch.nn.Module) -> dict[str, float]:
    return {f"{name}:{attribute}": float(getattr(module, attribute))
            for name, module in model.named_modules() if isinstance(module, DenseDetector)
            for attribute in _DETECTOR_AVERAGES if hasattr(module, attribute)}


def _set_detector_averages(model: torch.nn.Module, averages: dict[str, float]) -> None:
    modules = dict(model.named_modules())
    for key, value in averages.items():
        name, attribute = key.rsplit(":", 1)
        setattr(modules[name], attribute, value)


class ResumeState(HookBase):
    """Puts the data stream's, the random streams' and the detector's running averages' state of every
    process in each checkpoint.

    detectron2 saves a hook's ``state_dict`` with the trainer's and hands it back on ``--resume``.
    Checkpoints are written by the main process, so at the checkpointer's iterations the other
    processes' states are gathered first (this hook comes before the checkpointer). Random states are
    restored just before the first resumed step; evaluation during training leaves them untouched.
    """

    def __init__(self, batches: ResumableBatches, checkpoint_period: int, max_iter: int):
        self.batches, self.period, self.max_iter = batches, checkpoint_period, max_iter
        self._gathered: tuple[int, list[dict]] | None = None
        self._restore: dict[str, Any] | None = None
        self._loaded = False

    def _process_state(self) -> dict[str, Any]:
        return {"data": self.batches.state_dict(), "random": _random_state(),
                "averages": _detector_averages(self.trainer.model)}

    def after_step(self) -> None:
        iteration = self.trainer.iter
        if comm.get_world_size() == 1:
            return
        if (iteration + 1) % self.period == 0 or iteration >= self.max_iter - 1:
            self._gathered = (iteration, comm.all_gather(self._process_state()))

    def state_dict(self) -> dict[str, Any]:
        if self._gathered is not None and self._gathered[0] == self.trainer.iter:
            processes = self._gathered[1]
        else:  # one process, or a save outside the checkpointer's iterations: this process's state
            processes = [self._process_state()]
        return {"seed": self.batches.stream.seed, "processes": processes}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._loaded = True
        processes, rank, world = state["processes"], comm.get_rank(), comm.get_world_size()
        self.batches.stream.seed = int(state["seed"])
        if len(processes) == world:
            self._restore = processes[rank]
            self.batches.load_state_dict(processes[rank]["data"])
            return
        logger.warning("the checkpoint was written by %d processes, this run has %d: the data order "
                       "continues after every image seen, and random states from process 0's, not exactly",
                       len(processes), world)
        self._restore = processes[0]
        seen = max(p["data"]["next_position"] for p in processes)
        self.batches.load_state_dict({"next_position": seen + rank, "pending": []})

    def before_train(self) -> None:
        if self._restore is not None:
            _set_random_state(self._restore["random"])
            _set_detector_averages(self.trainer.model, self._restore["averages"])
        elif self.trainer.iter > 0 and not self._loaded:
            logger.warning("the checkpoint holds no data-order or random state (written by an older "
                           "version): the resumed run's data order starts over")
