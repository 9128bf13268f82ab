"""The configuration of a Transformer run: one frozen dataclass, every field commented.

The model (constructions.transformer.model) is a one-layer Transformer on the tokens
a_1 ... a_k '=' (Section 5 of arXiv 2402.09469; the paper does not say how the k inputs are fed),
read out at the last position. The defaults are sized for a CPU and measured in docs/transformer.md
(benchmarks/bench_transformer.py); `paper_config` gives the paper's settings (App. J.1:
160 heads, hidden size 128, AdamW lr 1e-3, weight decay 1e-3, betas (0.9, 0.98), batch 1024,
10 warm-up steps).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any

from fourier_circuits.constructions.training.config import (
    DEVICES,
    DTYPES,
    is_int,
    is_real,
    positive_int,
)
from fourier_circuits.theory import FourierCircuitsError, Task
from fourier_circuits.theory.tolerances import TEST_ACCURACY_CLAIM  # the checked claim


@dataclass(frozen=True)
class TransformerConfig:
    """Everything that determines a Transformer run; the same config gives the same numbers."""

    p: int  # odd modulus p >= 3 (tokens 0..p-1 are the numbers, token p is '=')
    k: int  # number of summands k >= 2 (sequence a_1 ... a_k '=', length k + 1)
    d_model: int = 32  # residual width (the paper's hidden size: 128)
    n_heads: int = 4  # attention heads (the paper: 160)
    d_head: int = 8  # width of each head's queries, keys and values (the paper does not say)
    d_mlp: int = 512  # width of the ReLU MLP after attention; 0: attention only
    steps: int = 20_000  # most optimiser steps
    seed: int = 0  # seeds the initialisation, the train/test split and the batches
    lr: float = 5e-3  # AdamW peak learning rate (the paper: 1e-3)
    weight_decay: float = 1.0  # AdamW's decoupled decay of the weight matrices (the paper: 1e-3)
    beta1: float = 0.9  # AdamW beta_1 (the paper's)
    beta2: float = 0.98  # AdamW beta_2 (the paper's)
    warmup_steps: int = 10  # linear learning-rate warm-up (the paper's)
    batch_size: int | None = None  # examples per step; None: full batch (the paper: 1024)
    train_fraction: float = 0.5  # share of the p^k examples trained on (the paper: 50%)
    init_scale: float = 1.0  # every matrix ~ N(0, init_scale^2 / fan_in)
    eval_every: int = 100  # measure train and test accuracy every this many steps
    target_accuracy: float | None = (
        TEST_ACCURACY_CLAIM  # stop once test accuracy >= it; None: never
    )
    stall_steps: int = 2000  # error if the loss has not fallen by 1% within this many steps
    device: str = "cpu"  # "cpu" or "cuda"
    dtype: str = "float32"  # training precision; the attention analysis is always float64
    threads: int | None = None  # torch/BLAS threads; None: 1 for small problems (see docs)

    def __post_init__(self) -> None:
        task = Task(self.p, self.k)
        object.__setattr__(self, "p", task.p)
        object.__setattr__(self, "k", task.k)
        if self.device not in DEVICES:
            raise FourierCircuitsError(f"device={self.device!r} must be one of {DEVICES}")
        if self.dtype not in DTYPES:
            raise FourierCircuitsError(f"dtype={self.dtype!r} must be one of {DTYPES}")
        for name in ("d_model", "n_heads", "d_head", "steps", "eval_every", "stall_steps"):
            positive_int(name, getattr(self, name), optional=False)
        for name in ("batch_size", "threads"):
            positive_int(name, getattr(self, name), optional=True)
        for name in ("d_mlp", "warmup_steps", "seed"):
            value = getattr(self, name)
            if not is_int(value) or value < 0:
                raise FourierCircuitsError(f"{name}={value!r} must be an integer >= 0")
        for name in ("lr", "init_scale"):
            value = getattr(self, name)
            if not (is_real(value) and 0 < value < math.inf):
                raise FourierCircuitsError(f"{name}={value!r} must be a positive finite number")
        wd = self.weight_decay
        if not (is_real(wd) and 0 <= wd < math.inf):
            raise FourierCircuitsError(f"weight_decay={wd!r} must be a finite number >= 0")
        for name in ("beta1", "beta2"):
            value = getattr(self, name)
            if not (is_real(value) and 0 <= value < 1):
                raise FourierCircuitsError(f"{name}={value!r} must lie in [0, 1)")
        tf = self.train_fraction
        if not (is_real(tf) and 0 < tf < 1):
            raise FourierCircuitsError(
                f"train_fraction={tf!r} must lie in (0, 1): the test accuracy needs held-out "
                "examples"
            )
        ta = self.target_accuracy
        if ta is not None and not (is_real(ta) and 0 < ta <= 1):
            raise FourierCircuitsError(f"target_accuracy={ta!r} must lie in (0, 1] (or be None)")

    @property
    def n_train(self) -> int:
        """Training examples: round(train_fraction p^k), at least 1 and at most p^k - 1."""
        n = self.p**self.k
        return min(max(round(self.train_fraction * n), 1), n - 1)

    def as_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict (saved beside every result)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


#: The paper's settings (App. J.1 and Section 5 of arXiv 2402.09469) that differ from the
#: defaults. d_head and d_mlp are not stated there: one head of width 8 (160 x 8 = 1280 query
#: dimensions for a residual of 128) and the usual MLP of 4 x d_model.
PAPER_SETTINGS: dict[str, Any] = {
    "d_model": 128,
    "n_heads": 160,
    "d_head": 8,
    "d_mlp": 512,
    "lr": 1e-3,
    "weight_decay": 1e-3,
    "batch_size": 1024,
}


def paper_config(p: int, k: int, **overrides: Any) -> TransformerConfig:
    """TransformerConfig with the paper's settings (PAPER_SETTINGS), then `overrides`."""
    return replace(TransformerConfig(p=p, k=k), **{**PAPER_SETTINGS, **overrides})
