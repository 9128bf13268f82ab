"""What `fourier-circuits transformer` and `grokking` share: the model and optimiser flags and the
TransformerConfig they give, training with progress on stderr (a bar on a terminal, log lines
elsewhere), and the JSON writer of their files. Not a subcommand."""

from __future__ import annotations

import argparse

import torch

from fourier_circuits.constructions.training import DEVICES, DTYPES
from fourier_circuits.constructions.transformer import (
    TransformerConfig,
    TransformerRecord,
    TransformerResult,
    paper_config,
    train_named,
)
from fourier_circuits.constructions.transformer.loop import Callback
from fourier_circuits.experiments.progress import StepProgress

#: Command-line flags that map one-to-one onto TransformerConfig fields (None: not given).
CONFIG_FLAGS = (
    "d_model",
    "n_heads",
    "d_head",
    "d_mlp",
    "steps",
    "lr",
    "weight_decay",
    "warmup_steps",
    "batch_size",
    "train_fraction",
    "init_scale",
    "eval_every",
    "device",
    "dtype",
    "threads",
)


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The model and optimiser flags shared by `transformer` and `grokking` (defaults:
    TransformerConfig's)."""
    d = TransformerConfig(p=3, k=2)
    parser.add_argument("--d-model", type=int, help=f"residual width (default {d.d_model})")
    parser.add_argument("--n-heads", type=int, help=f"attention heads (default {d.n_heads})")
    parser.add_argument("--d-head", type=int, help=f"width of each head (default {d.d_head})")
    parser.add_argument("--d-mlp", type=int, help=f"MLP width, 0: none (default {d.d_mlp})")
    parser.add_argument("--steps", type=int, help=f"most optimiser steps (default {d.steps})")
    parser.add_argument("--lr", type=float, help=f"AdamW learning rate (default {d.lr})")
    parser.add_argument("--weight-decay", type=float, help=f"(default {d.weight_decay})")
    parser.add_argument("--warmup-steps", type=int, help=f"(default {d.warmup_steps})")
    parser.add_argument("--batch-size", type=int, help="examples per step (default: full batch)")
    parser.add_argument(
        "--train-fraction", type=float, help=f"share trained on (default {d.train_fraction})"
    )
    parser.add_argument("--init-scale", type=float, help=f"(default {d.init_scale})")
    parser.add_argument("--eval-every", type=int, help=f"measure every N steps ({d.eval_every})")
    parser.add_argument("--device", choices=DEVICES, help="default: cpu")
    parser.add_argument("--dtype", choices=DTYPES, help=f"training precision ({d.dtype})")
    parser.add_argument("--threads", type=int, help="torch threads (default: 1 if small)")
    parser.add_argument(
        "--paper",
        action="store_true",
        help="the paper's settings (160 heads, d_model 128, lr 1e-3, weight decay 1e-3, "
        "batch 1024); other flags override them",
    )
    parser.add_argument(
        "--no-early-stop",
        action="store_true",
        help="run every step instead of stopping once test accuracy >= 0.99",
    )


def model_config(args: argparse.Namespace, p: int, k: int, seed: int) -> TransformerConfig:
    """The config of the flags: the defaults (or --paper's settings), then every flag given."""
    given = {name: getattr(args, name) for name in CONFIG_FLAGS if getattr(args, name) is not None}
    if args.no_early_stop:
        given["target_accuracy"] = None
    if args.paper:
        return paper_config(p, k, seed=seed, **given)
    return TransformerConfig(p=p, k=k, seed=seed, **given)


def progress(total: int, desc: str) -> tuple[StepProgress, Callback]:
    """Progress on stderr (experiments.progress: a bar on a terminal, a line every few seconds in
    a log) and the training callback feeding it."""
    bar = StepProgress(total, desc)

    def update(record: TransformerRecord, _total: int) -> None:
        bar.update(
            record.step,
            train=f"{record.train_accuracy:.3f}",
            test=f"{record.test_accuracy:.3f}",
        )

    return bar, update


def run_training(config: TransformerConfig, *, desc: str = "transformer") -> TransformerResult:
    """train_named (training errors name p, k and seed) with a progress bar."""
    torch.manual_seed(config.seed)  # training draws only from its own generators; belt and braces
    bar, update = progress(config.steps, desc)
    try:
        return train_named(config, callback=update)
    finally:
        bar.close()


class ProgressBars:
    """A callback_factory for constructions.transformer.grokking: a fresh bar for each run
    ("p=P k=K seed=S"), closing the previous one; close() closes the last."""

    def __init__(self) -> None:
        self._bar: StepProgress | None = None

    def __call__(self, config: TransformerConfig) -> Callback:
        self.close()
        torch.manual_seed(config.seed)  # as run_training: belt and braces
        self._bar, update = progress(config.steps, f"p={config.p} k={config.k} seed={config.seed}")
        return update

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
