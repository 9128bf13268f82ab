"""Everything a training run needs to go on exactly where it stopped: `TrainState`.

train(config, on_state=..., state_every=N) hands a TrainState to the caller every N steps;
train(config, resume=state) continues from it and ends, step for step, where the uninterrupted run
with the same config ends (tests/test_training_resume.py checks it for every optimiser). A state
holds the step, the weights, the optimiser's state (Method.state_dict), the torch generator's
state (it draws the batches and "margin"'s birth-death noise), the batch stream's permutation and
position, the loss watch, the plateau tracker and the history so far. `as_dict()` holds only what
torch.load(weights_only=True) reads back (tensors, numbers, strings, lists and dicts), so a
checkpoint file is never unpickled unsafely; `TrainState.from_dict` reads it back.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any

import torch

from fourier_circuits.constructions.training.model import Batch, select
from fourier_circuits.constructions.training.result import HistoryRecord
from fourier_circuits.theory import FourierCircuitsError

#: Bumped when the layout of TrainState.as_dict changes.
STATE_VERSION = 2


class BatchStream(Iterator[Batch]):
    """The full batch forever, or mini-batches of a fresh random permutation each epoch (as
    training.loop.batches), with its position exported: state_dict() / load_state_dict()."""

    def __init__(self, data: Batch, batch_size: int | None, generator: torch.Generator) -> None:
        self.data, self.generator = data, generator
        n = len(data)
        self.size = None if batch_size is None or batch_size >= n else batch_size
        self.order: torch.Tensor | None = None  # this epoch's permutation (on the CPU)
        self.position = 0  # examples of this epoch already served

    def __next__(self) -> Batch:
        if self.size is None:
            return self.data
        n = len(self.data)
        if self.order is None or self.position >= n:
            self.order = torch.randperm(n, generator=self.generator)
            self.position = 0
        index = self.order[self.position : self.position + self.size]
        self.position += self.size
        return select(self.data, index.to(self.data.labels.device))

    def state_dict(self) -> dict[str, Any]:
        return {"order": self.order, "position": self.position}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        order = state["order"]
        self.order = None if order is None else order.to("cpu", torch.int64)
        self.position = int(state["position"])


def record_to_dict(record: HistoryRecord) -> dict[str, Any]:
    """A HistoryRecord as plain values (NaN kept: the state is not JSON)."""
    return {f.name: _plain(getattr(record, f.name)) for f in fields(record)}


def record_from_dict(values: dict[str, Any]) -> HistoryRecord:
    found: dict[str, Any] = {
        f.name: tuple(values[f.name]) if isinstance(values[f.name], list) else values[f.name]
        for f in fields(HistoryRecord)
    }
    return HistoryRecord(**found)


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


@dataclass(frozen=True)
class TrainState:
    """A training run after `step` steps (module docstring). `extra`: what the caller's monitor
    keeps (training.monitor), plain values."""

    step: int
    seconds: float  # training time so far, all sessions together
    method: dict[str, Any]  # Method.state_dict(): the weights and the optimiser's state
    generator: torch.Tensor  # torch.Generator.get_state()
    stream: dict[str, Any]  # BatchStream.state_dict()
    watch: tuple[float, float]  # LossWatch (first, best)
    last_loss: float
    best_ratio: float
    best_ratio_step: int
    history: tuple[HistoryRecord, ...]
    config: dict[str, Any]  # the resolved TrainConfig's as_dict(), to refuse a different run
    extra: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "step": self.step,
            "seconds": self.seconds,
            "method": self.method,
            "generator": self.generator,
            "stream": self.stream,
            "watch": list(self.watch),
            "last_loss": self.last_loss,
            "best_ratio": self.best_ratio,
            "best_ratio_step": self.best_ratio_step,
            "history": [record_to_dict(r) for r in self.history],
            "config": self.config,
            "extra": self.extra,
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> TrainState:
        """The state as_dict() wrote; a state of another layout is refused."""
        if state.get("version") != STATE_VERSION:
            raise FourierCircuitsError(
                f"a training state of version {state.get('version')!r} cannot be resumed by this "
                f"version (it reads version {STATE_VERSION}); start the run again"
            )
        first, best = state["watch"]
        return cls(
            step=int(state["step"]),
            seconds=float(state["seconds"]),
            method=state["method"],
            generator=state["generator"],
            stream=state["stream"],
            watch=(float(first), float(best)),
            last_loss=float(state["last_loss"]),
            best_ratio=float(state["best_ratio"]),
            best_ratio_step=int(state["best_ratio_step"]),
            history=tuple(record_from_dict(r) for r in state["history"]),
            config=state["config"],
            extra=state["extra"],
        )

    def require_config(self, config: dict[str, Any]) -> None:
        """Refuse to resume a run of another config (it would not end where either ends)."""
        differ = sorted(
            key
            for key in set(config) | set(self.config)
            if not _same(config.get(key), self.config.get(key))
        )
        if differ:
            raise FourierCircuitsError(
                f"the training state was saved by a run with other settings ({', '.join(differ)}"
                "); resume it with the same settings or start again"
            )


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b
