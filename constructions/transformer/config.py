"""The configuration of a Transformer run: one frozen dataclass, every field commented.

The model (constructions.transformer.model) is a one-layer Transformer on the tokens
a_1 ... a_k '=' (Section 5 of arXiv 2402.09469; the paper does not say how the k inputs are fed),
read out at the last position. The defaults are sized for a CPU and measured in docs/transformer.md
(benchmarks/bench_transformer.py); `paper_config` gives the paper's settings (App. J.1:
160 heads, hidden size 128, AdamW lr 1e-3, weight decay 1e-3, betas (0.9, 0.98), batch 1024,
10 warm-up steps).

A config is refused when it is made (theory.budget), before anything is allocated, if the run
would not fit in memory or all its `steps` would take longer than theory.budget.MAX_WORK_HOURS
(`estimate()` gives both, with the formulas); seeds are integers in 0..2^32 - 1 and threads at
most theory.budget.max_threads() (constructions.training.config's rules).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import fourier_circuits.theory.budget as budget
from fourier_circuits.constructions.training.config import (
    DEVICES,
    DTYPES,
    check_threads,
    is_int,
    is_real,
    positive_int,
)
from fourier_circuits.theory import FourierCircuitsError, Task
from fourier_circuits.theory._validation import check_seed
from fourier_circuits.theory.task import require_enumerable
from fourier_circuits.theory.tolerances import TEST_ACCURACY_CLAIM  # the checked claim

#: flop of a training step per flop of the forward pass: forward, backward (twice), and a margin
#: of 2 for the optimiser and the framework (docs/transformer.md: (11, 3), defaults, 7 ms a step;
#: the count gives 6.8 ms at theory.budget's 1e10 flop/s a core).
STEP_FLOP_FACTOR = 6
#: Most bytes of activations one evaluation chunk may hold (the accuracy over all of the training
#: or test set is computed in chunks of examples of at most this size).
EVAL_CHUNK_BYTES = 2**28


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
        check_seed(self.seed)
        check_threads(self.threads)
        for name in ("d_mlp", "warmup_steps"):
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
        nbytes, flop = self.estimate()
        if self.device == "cpu":  # this machine's memory and cores; a GPU has its own
            budget.require(
                f"training the Transformer p={self.p}, k={self.k}, d_model {self.d_model}, "
                f"{self.n_heads} heads of {self.d_head}, MLP {self.d_mlp}, {self.steps} steps, "
                f"batch {self.batch}",
                nbytes=nbytes,
                # with an early stop `steps` is a ceiling, EARLY_STOP_SHARE of which is typical
                flop=flop if self.target_accuracy is None else flop * budget.EARLY_STOP_SHARE,
                fix="lower --d-model, --n-heads, --d-head, --d-mlp, --steps or --batch-size",
            )

    @property
    def n_train(self) -> int:
        """Training examples: round(train_fraction p^k), at least 1 and at most p^k - 1."""
        task = Task(self.p, self.k)
        require_enumerable(task)
        n = task.n_examples
        return min(max(round(self.train_fraction * n), 1), n - 1)

    @property
    def batch(self) -> int:
        """Examples per step: batch_size, at most (and by default) the training set."""
        return self.n_train if self.batch_size is None else min(self.batch_size, self.n_train)

    @property
    def n_parameters(self) -> int:
        """E (p+1, d), P (k+1, d), W^Q, W^K, W^V (H, d, d_head), W^O (H, d_head, d), the MLP
        W1 (d, d_mlp), b1, W2 (d_mlp, d), b2 and W^U (d, p)."""
        p, k, d, H, dh, dm = self.p, self.k, self.d_model, self.n_heads, self.d_head, self.d_mlp
        mlp = 2 * d * dm + dm + d if dm else 0
        return (p + 1) * d + (k + 1) * d + 4 * H * d * dh + mlp + d * p

    @property
    def activation_values(self) -> int:
        """Values of the activations per example in a forward pass of model.logits: the gathered
        values (k, H, d_head) and a contiguous copy of them, the scores, softmax and attention
        (k+1, H) thrice, the heads' outputs (H, d_head) twice, the residual 4 d, the MLP 3 d_mlp,
        the logits 3 p."""
        p, k, d, H, dh, dm = self.p, self.k, self.d_model, self.n_heads, self.d_head, self.d_mlp
        return 2 * k * H * dh + 3 * (k + 1) * H + 2 * H * dh + 4 * d + 3 * dm + 3 * p

    @property
    def eval_chunk(self) -> int:
        """Examples per evaluation chunk: activations of at most EVAL_CHUNK_BYTES."""
        item = 8 if self.dtype == "float64" else 4
        return max(1, EVAL_CHUNK_BYTES // (self.activation_values * item))

    def estimate(self) -> tuple[int, float]:
        """(bytes, flop) of the whole run, estimated before anything is allocated:

        memory: the parameters (n_parameters) as float64 (the initial draw, two numpy copies at
        the end) and in the training dtype (parameters, gradients, two AdamW moments), 24 + 4 x
        itemsize bytes each; the per-position tables (k, p, H, d_head) thrice; a step's
        activations, twice (forward and backward) activation_values x batch; one evaluation
        chunk's; D_p as int64 inputs, 3 x 8 k p^k bytes; the attention analysis, H query-key
        matrices (p, p) and their spectra, 6 x 8 H p^2 bytes.
        time: steps x STEP_FLOP_FACTOR x the forward flop of a batch, 2 (H d_head d + 2 d d_mlp +
        d p + 2 (k+1) H d_head) per example plus 2 k p d H d_head for the tables; each
        evaluation (every eval_every steps) one forward pass over all p^k examples.
        """
        p, k, d, H, dh, dm = self.p, self.k, self.d_model, self.n_heads, self.d_head, self.d_mlp
        n = Task(p, k).n_examples if self.n_train else 0  # n_train refuses a huge D_p first
        item = 8 if self.dtype == "float64" else 4
        batch = self.batch
        nbytes = (
            (24 + 4 * item) * self.n_parameters
            + 3 * item * k * p * H * dh
            + item * self.activation_values * (2 * batch + min(self.eval_chunk, n))
            + 3 * 8 * k * n
            + 6 * 8 * H * p * p
        )
        per_example = 2 * (H * dh * d + 2 * d * dm + d * p + 2 * (k + 1) * H * dh)
        tables = 2 * k * p * d * H * dh
        evaluations = self.steps // self.eval_every + 2
        flop = self.steps * STEP_FLOP_FACTOR * (batch * per_example + tables) + evaluations * (
            n * float(per_example) + 2 * tables
        )
        return nbytes, flop

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
    """TransformerConfig with the paper's settings (PAPER_SETTINGS), then `overrides` (built in one
    step: the defaults alone, full batch at the paper's sizes, would be refused as too long)."""
    return TransformerConfig(p=p, k=k, **{**PAPER_SETTINGS, **overrides})
