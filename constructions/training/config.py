"""The configuration of a training run: one frozen dataclass, every field commented.

Three optimisers train the network of eq. 2 of arXiv 2402.09469 (constructions.training.methods):
- "margin" (the default): Adam on the unit sphere ||theta||_{2,k+1} = 1 minimising the
  cross-entropy of the normalized network at a fixed logit scale, with neuron birth-death;
- "gd": full-batch gradient descent on cross-entropy + lambda ||theta||_{2,k+1}^r with Morwani
  et al.'s learning rate schedule (arXiv 2311.07568: lr doubled every 1000 steps up to 10000);
- "adamw": AdamW as in App. J.1 of arXiv 2402.09469 (betas (0.9, 0.98), lr 5e-3, weight decay 5e-3,
  batch 1024, 10 warm-up steps).
Fields left as None take the optimiser's default (DEFAULTS); `resolved()` fills them in.

A config is refused when it is made (theory.budget), before anything is allocated, if the run
would not fit in memory or its `steps` (all of them: an early stop may end it sooner) would take
longer than theory.budget.MAX_WORK_HOURS; `estimate()` gives both numbers (formulas there).
Seeds are integers in 0..2^32 - 1 (what numpy's and torch's generators both accept), threads at
most theory.budget.max_threads().
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any

import fourier_circuits.theory.budget as budget
from fourier_circuits.constructions.training.chunks import chunk_rows
from fourier_circuits.theory import FourierCircuitsError, Task, width_bound
from fourier_circuits.theory._validation import check_seed
from fourier_circuits.theory.task import require_enumerable
from fourier_circuits.theory.tolerances import (  # the claims a run is checked against
    MARGIN_RATIO_CLAIM,
)

OPTIMIZERS = ("margin", "gd", "adamw")
DEVICES = ("cpu", "cuda")
DTYPES = ("float64", "float32")
#: flop of one training step per entry of the hidden layer (examples x width) and per output
#: class (p + k): three products (2 p each), the k gathers and scatter-adds and the element-wise
#: passes of training.kernel, and the optimiser. Measured (docs/training.md): (31, 3), width 480,
#: 0.10 s a step on 2 threads, i.e. 4.1 (p + k) an entry at theory.budget's 1e10 flop/s a core;
#: twice that, for slower machines.
STEP_FLOP_PER_ENTRY = 8
#: The largest logit gap T of "margin": CE* = log(1 + (p-1) e^-T) must stay a positive float64.
MAX_TEMPERATURE = 700.0
#: Copies of a chunk of the hidden layer (training.kernel: chunk_rows examples x width) alive in a
#: step: z, z^(k-1), z^k, its gradient, and scratch.
HIDDEN_COPIES = 6


#: Per-optimiser defaults of the fields that are None in TrainConfig. Measured choices are
#: justified in docs/training.md (benchmarks/bench_train.py reproduces the measurements).
DEFAULTS: dict[str, dict[str, Any]] = {
    "margin": {
        "steps": 20_000,
        "lr": 0.003,  # Adam step on the unit sphere; halved every lr_half_life steps
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
    rebalance: bool = True  # margin: refill frequencies short of neurons (training.rebalance)
    lbfgs: bool = True  # margin, full batch: L-BFGS once the logits are confident (training.lbfgs)
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
        for name in ("rebalance", "lbfgs"):
            if not isinstance(getattr(self, name), bool):
                raise FourierCircuitsError(f"{name}={getattr(self, name)!r} must be True or False")
        check_seed(self.seed)
        check_threads(self.threads)
        for name in ("lr", "temperature", "init_scale", "reg_power"):
            value = getattr(self, name)
            if value is not None and not (is_real(value) and 0 < value < math.inf):
                raise FourierCircuitsError(f"{name}={value!r} must be a positive finite number")
        if self.temperature > MAX_TEMPERATURE:
            raise FourierCircuitsError(
                f"temperature={self.temperature!r} must be at most {MAX_TEMPERATURE:g}: the loss "
                "is reported as CE / CE*, CE* = log(1 + (p-1) e^-T), and e^-T underflows float64 "
                "beyond T ~ 745"
            )
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
        nbytes, flop = self.estimate()
        if self.device == "cpu":  # this machine's memory and cores; a GPU has its own
            budget.require(
                f"training p={self.p}, k={self.k}, width {self.m}, {self._steps()} steps "
                f"({self.optimizer}, {self.dtype}, batch {self._batch()})",
                nbytes=nbytes,
                # with an early stop `steps` is a ceiling, EARLY_STOP_SHARE of which is typical
                flop=flop if self.target_ratio is None else flop * budget.EARLY_STOP_SHARE,
                fix="lower --width, --steps or --batch-size, or choose a smaller p or k",
            )

    def _steps(self) -> int:
        return int(self.steps if self.steps is not None else DEFAULTS[self.optimizer]["steps"])

    def _batch(self) -> int:
        """Examples per step: batch_size (or the optimiser's default), at most the training set."""
        n = Task(self.p, self.k).n_examples
        n_train = n if self.train_fraction >= 1 else min(max(round(self.train_fraction * n), 1), n)
        size = (
            self.batch_size
            if self.batch_size is not None
            else DEFAULTS[self.optimizer]["batch_size"]
        )
        return n_train if size is None else min(int(size), n_train)

    def estimate(self) -> tuple[int, float]:
        """(bytes, flop) of the whole run, estimated before anything is allocated:

        memory: the weights, m (k+1) p values, as float64 (the initial draw, two PolyNet
        snapshots) and in the training dtype (weights, gradients, two optimiser moments), 32 +
        4 x itemsize bytes a value; the step's activations, HIDDEN_COPIES x rows x m (rows =
        min(batch, the kernel's chunk)) and 4 x batch x p values of the dtype; D_p as int64
        inputs, 3 x 8 k p^k bytes (all of it, the split, the tensors); a measurement's logits
        over the training set, 3 x 8 p x N_train; the Fourier spectra, 48 m (k+1) p bytes.
        time: steps x STEP_FLOP_PER_ENTRY x batch x m (p + k), plus each measurement (every
        eval_every steps) 2 x theory.budget.evaluation_flop(p^k, m, k, p).
        """
        task = Task(self.p, self.k)
        require_enumerable(task)  # every run materialises D_p
        p, k, m = task.p, task.k, self.m
        n = task.n_examples
        batch, steps = self._batch(), self._steps()
        n_train = n if self.train_fraction >= 1 else min(max(round(self.train_fraction * n), 1), n)
        item = 8 if self.dtype == "float64" else 4
        rows = chunk_rows(m, item, cuda=self.device == "cuda")
        values = m * (k + 1) * p
        nbytes = (
            (32 + 4 * item) * values
            + item * (HIDDEN_COPIES * min(batch, rows) * m + 4 * batch * p)
            + 3 * 8 * k * n
            + 3 * 8 * p * n_train
            + 48 * values
        )
        measurements = steps // self.eval_every + 2
        flop = steps * STEP_FLOP_PER_ENTRY * batch * m * (p + k) + measurements * 2 * (
            budget.evaluation_flop(n, m, k, p)
        )
        return nbytes, flop

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


def check_threads(threads: object) -> None:
    """None, or an int in 1..theory.budget.max_threads() (torch and BLAS threads)."""
    if threads is None:
        return
    limit = budget.max_threads()
    if not is_int(threads) or not 1 <= threads <= limit:  # type: ignore[operator]
        raise FourierCircuitsError(
            f"threads={threads!r} must be a positive integer at most {limit} "
            f"({budget.THREADS_PER_CPU} x the CPUs of this machine)"
        )


def positive_int(name: str, value: object, *, optional: bool) -> None:
    if value is None and optional:
        return
    if not is_int(value) or value < 1:  # type: ignore[operator]
        raise FourierCircuitsError(f"{name}={value!r} must be a positive integer")
