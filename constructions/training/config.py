"""The configuration of a training run: one frozen dataclass, every field commented.

Three optimisers train the network of eq. 2 of arXiv 2402.09469 (constructions.training.methods):
- "margin" (the default): Adam on the unit sphere ||theta||_{2,k+1} = 1 minimising the
  cross-entropy of the normalized network at a fixed logit scale, with neuron birth-death;
- "gd": full-batch gradient descent on cross-entropy + lambda ||theta||_{2,k+1}^r with Morwani
  et al.'s learning rate schedule (arXiv 2311.07568: lr doubled every 1000 steps up to 10000);
- "adamw": AdamW as in App. J.1 of arXiv 2402.09469 (betas (0.9, 0.98), lr 5e-3, weight decay 5e-3,
  batch 1024, 10 warm-up steps).
Fields left as None take the optimiser's default (DEFAULTS); `resolved()` fills them in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any

from fourier_circuits.theory import FourierCircuitsError, Task, width_bound
from fourier_circuits.theory.tolerances import (  # the claims a run is checked against
    MARGIN_RATIO_CLAIM,
)

OPTIMIZERS = ("margin", "gd", "adamw")
DEVICES = ("cpu", "cuda")
DTYPES = ("float64", "float32")


#: Per-optimiser defaults of the fields that are None in TrainConfig. Measured choices are
#: justified in docs/training.md (benchmarks/bench_train.py reproduces the measurements).
DEFAULTS: dict[str, dict[str, Any]] = {
    "margin": {
        "steps": 20_000,
        "lr": 0.01,  # Adam step on the unit sphere; halved every lr_half_life steps
        "weight_decay": 0.0,  # unused: the norm is fixed at 1
        "batch_size": None,  # full batch
        "lr_half_life": 3000,
        "split_every": 100,
        "split_until": 5000,
    },
    "gd": {
        "steps": 20_000,
        "lr": 0.05,  # Morwani et al.: 0.05, doubled at 1k, 2k, ..., 10k
        "weight_decay": 1e-4,  # lambda of lambda * ||theta||_{2,k+1}^r
        "batch_size": None,
        "lr_half_life": None,
        "split_every": 0,
        "split_until": 0,
    },
    "adamw": {
        "steps": 20_000,
        "lr": 5e-3,
        "weight_decay": 5e-3,  # AdamW's decoupled decay (an L2 penalty, not L_{2,k+1})
        "batch_size": 1024,
        "lr_half_life": None,
        "split_every": 0,
        "split_until": 0,
    },
}


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run; the same config gives the same numbers."""

    p: int  # odd modulus p >= 3
    k: int  # number of summands k >= 2
    width: int | None = None  # m neurons; None: the paper's width 2^(2k-2) (p-1) (Thm 4.1)
    optimizer: str = "margin"  # one of OPTIMIZERS
    steps: int | None = None  # most optimiser steps; None: DEFAULTS[optimizer]["steps"]
    seed: int = 0  # seeds the initialisation, the train/test split, batches and birth-death
    lr: float | None = None  # learning rate; None: DEFAULTS[optimizer]["lr"]
    weight_decay: float | None = None  # lambda (gd: of ||theta||^r; adamw: decoupled)
    reg_power: float | None = None  # r of lambda ||theta||_{2,k+1}^r for gd; None: k + 1
    lr_half_life: int | None = None  # margin: lr halves every this many steps; None: default
    temperature: float = 20.0  # margin: logit scale T / gamma*, i.e. every gap is T at the optimum
    split_every: int | None = None  # margin: birth-death every this many steps (0: never)
    split_until: int | None = None  # margin: no birth-death from this step on
    init_scale: float = 1.0  # weights ~ N(0, (init_scale^2) / p): each vector has norm ~ init_scale
    batch_size: int | None = None  # examples per step; None: full batch (adamw: 1024)
    train_fraction: float = 1.0  # share of D_p trained on (the theory uses all of D_p)
    eval_every: int = 50  # measure (with theory/) every this many steps
    target_ratio: float | None = MARGIN_RATIO_CLAIM  # stop once the claims hold; None: never
    patience: int = 4000  # stop when the best margin ratio has not grown by 1e-4 in this many steps
    stall_steps: int = 2000  # error if the loss has not fallen by 1% within this many steps
    device: str = "cpu"  # "cpu" or "cuda"
    dtype: str = "float64"  # "float64" (compared with the theorem) or "float32"
    threads: int | None = None  # torch/BLAS threads; None: 1 for small problems (see docs)

    def __post_init__(self) -> None:
        task = Task(self.p, self.k)
        object.__setattr__(self, "p", task.p)
        object.__setattr__(self, "k", task.k)
        if self.optimizer not in OPTIMIZERS:
            raise FourierCircuitsError(
                f"optimizer={self.optimizer!r} must be one of {', '.join(OPTIMIZERS)}"
            )
        if self.device not in DEVICES:
            raise FourierCircuitsError(f"device={self.device!r} must be one of {DEVICES}")
        if self.dtype not in DTYPES:
            raise FourierCircuitsError(f"dtype={self.dtype!r} must be one of {DTYPES}")
        for name in ("width", "steps", "batch_size", "threads", "lr_half_life"):
            positive_int(name, getattr(self, name), optional=True)
        for name in ("eval_every", "patience", "stall_steps"):
            positive_int(name, getattr(self, name), optional=False)
        for name in ("split_every", "split_until"):
            value = getattr(self, name)
            if value is not None and (not is_int(value) or value < 0):
                raise FourierCircuitsError(f"{name}={value!r} must be an integer >= 0")
        if not is_int(self.seed) or self.seed < 0:
            raise FourierCircuitsError(f"seed={self.seed!r} must be an integer >= 0")
        for name in ("lr", "temperature", "init_scale", "reg_power"):
            value = getattr(self, name)
            if value is not None and not (is_real(value) and 0 < value < math.inf):
                raise FourierCircuitsError(f"{name}={value!r} must be a positive finite number")
        wd = self.weight_decay
        if wd is not None and not (is_real(wd) and 0 <= wd < math.inf):
            raise FourierCircuitsError(f"weight_decay={wd!r} must be a finite number >= 0")
        tf = self.train_fraction
        if not (is_real(tf) and 0 < tf <= 1):
            raise FourierCircuitsError(
                f"train_fraction={tf!r} must lie in (0, 1] (1: train on all of D_p)"
            )
        tr = self.target_ratio
        if tr is not None and not (is_real(tr) and 0 < tr <= 1):
            raise FourierCircuitsError(f"target_ratio={tr!r} must lie in (0, 1] (or be None)")

    @property
    def m(self) -> int:
        """The width: `width`, or the paper's 2^(2k-2) (p-1)."""
        return self.width if self.width is not None else width_bound(self.p, self.k)

    def resolved(self) -> TrainConfig:
        """This config with every None replaced by its optimiser's default (and width by m)."""
        defaults = DEFAULTS[self.optimizer]
        filled: dict[str, Any] = {"width": self.m}
        for name, value in defaults.items():
            if getattr(self, name) is None:
                filled[name] = value
        if self.reg_power is None:
            filled["reg_power"] = float(self.k + 1)
        return replace(self, **filled)

    def as_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict (saved beside every result)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_real(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def positive_int(name: str, value: object, *, optional: bool) -> None:
    if value is None and optional:
        return
    if not is_int(value) or value < 1:  # type: ignore[operator]
        raise FourierCircuitsError(f"{name}={value!r} must be a positive integer")
