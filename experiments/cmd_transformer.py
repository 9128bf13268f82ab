"""`fourier-circuits transformer --p P --k K [--seed S] [--paper] [--out DIR] ...`.

Trains the one-layer Transformer of Section 5 of arXiv 2402.09469 (constructions.transformer) on
the tokens a_1 ... a_k '=' with a random half of the p^k examples, and analyses its attention in
Fourier space (float64): for each head the query-key matrix between the number tokens, its 2-D
DFT, the share of the non-DC power in the strongest conjugate classes
(`attention_fourier_concentration`, pooled over heads by power) and which classes those are,
beside the frequencies the embeddings use and the level i.i.d. Gaussian noise reaches.
Checked claim: test accuracy >= 0.99 (TEST_ACCURACY_CLAIM). The concentration is reported, not
checked: the paper shows it but states no threshold.
Exit 0: the claim held; 1: it failed (named); 2: bad input, or training diverged or stalled (one
line on stderr). A progress bar goes to stderr when it is a terminal.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from fourier_circuits.constructions.training import DEVICES, DTYPES, TrainingError
from fourier_circuits.constructions.transformer import (
    TEST_ACCURACY_CLAIM,
    AttentionAnalysis,
    TransformerConfig,
    TransformerRecord,
    TransformerResult,
    paper_config,
    train_transformer,
)
from fourier_circuits.experiments.outcome import Outcome, fmt
from fourier_circuits.experiments.outputs import (
    make_out_dir,
    require_writable_dir,
    write_atomic,
)
from fourier_circuits.experiments.plots_transformer import save_transformer_plots
from fourier_circuits.experiments.provenance import provenance
from fourier_circuits.theory import TOP_FREQUENCIES, FourierCircuitsError, noise_concentration
from fourier_circuits.theory.serialise import jsonable

NAME = "transformer"

#: Random matrices averaged for the noise level of the concentration (seeded by --seed).
NOISE_SAMPLES = 200

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
    """The model and optimiser flags shared with `grokking` (defaults: TransformerConfig's)."""
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--p", type=int, required=True, help="odd modulus p >= 3")
    parser.add_argument("--k", type=int, required=True, help="number of summands k >= 2")
    parser.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    add_model_arguments(parser)
    parser.add_argument(
        "--top", type=int, default=TOP_FREQUENCIES, help="2-D frequency classes counted (4)"
    )
    parser.add_argument("--out", metavar="DIR", help="write plots, history.json, result.json")


def model_config(args: argparse.Namespace, p: int, k: int, seed: int) -> TransformerConfig:
    """The config of the flags: the defaults (or --paper's settings), then every flag given."""
    given = {name: getattr(args, name) for name in CONFIG_FLAGS if getattr(args, name) is not None}
    if args.no_early_stop:
        given["target_accuracy"] = None
    if args.paper:
        return paper_config(p, k, seed=seed, **given)
    return TransformerConfig(p=p, k=k, seed=seed, **given)


def progress(total: int, desc: str) -> tuple[tqdm[Any], Any]:
    """A tqdm bar on stderr (shown only on a terminal) and the training callback updating it."""
    bar: tqdm[Any] = tqdm(
        total=total, desc=desc, unit="step", file=sys.stderr, disable=None, leave=False
    )

    def update(record: TransformerRecord, _total: int) -> None:
        bar.update(record.step - bar.n)
        bar.set_postfix(
            train=f"{record.train_accuracy:.3f}", test=f"{record.test_accuracy:.3f}", refresh=False
        )

    return bar, update


def run_training(config: TransformerConfig, *, desc: str = "transformer") -> TransformerResult:
    """train_transformer with a progress bar; training errors name the run's inputs."""
    torch.manual_seed(config.seed)  # training draws only from its own generators; belt and braces
    bar, update = progress(config.steps, desc)
    try:
        return train_transformer(config, callback=update)
    except TrainingError as err:
        raise FourierCircuitsError(
            f"p={config.p}, k={config.k}, seed={config.seed}: {err}"
        ) from None
    finally:
        bar.close()


def summary(result: TransformerResult) -> dict[str, Any]:
    """The run's numbers besides the attention analysis."""
    hit = result.first_reaching(TEST_ACCURACY_CLAIM)
    train_hit = next((r for r in result.history if r.train_accuracy >= TEST_ACCURACY_CLAIM), None)
    final = result.final
    return {
        "train_accuracy": final.train_accuracy,
        "test_accuracy": final.test_accuracy,
        "steps_to_test_099": hit.step if hit else None,
        "seconds_to_test_099": hit.seconds if hit else None,
        "steps_to_train_099": train_hit.step if train_hit else None,
        "steps": result.steps,
        "seconds": result.seconds,
        "stop_reason": result.stop_reason,
        "threads": result.threads,
        "train_loss": final.train_loss,
        "test_loss": final.test_loss,
    }


def run(args: argparse.Namespace) -> Outcome:
    config = model_config(args, args.p, args.k, args.seed)
    out = require_writable_dir(args.out) if args.out else None
    n_top = args.top
    classes = (config.p**2 - 1) // 2
    if not 1 <= n_top <= classes:
        raise FourierCircuitsError(
            f"--top {n_top} must lie in 1..{classes} (the non-DC conjugate classes of p={config.p})"
        )
    result = run_training(config)
    analysis = result.analysis(n_top=n_top)
    noise = noise_concentration(
        config.p, n_top=n_top, samples=NOISE_SAMPLES, rng=np.random.default_rng(config.seed)
    )
    data: dict[str, Any] = {"p": config.p, "k": config.k, "seed": config.seed}
    data.update(summary(result))
    data.update(result.multisets().as_dict())
    data.update(analysis.as_dict())
    data["noise_concentration"] = noise
    data["claims"] = {"test_accuracy_at_least": TEST_ACCURACY_CLAIM}
    data["config"] = config.as_dict()
    failures = result.failures(TEST_ACCURACY_CLAIM)
    if out is not None:
        meta = provenance(command=NAME, seed=config.seed, config=config.as_dict())
        write_out(out, result, analysis, data, meta)
        data["out"] = str(out)
    data = jsonable(data)
    skip = (
        "config",
        "claims",
        "head_top_frequencies",
        "embedding_power_shares",
        "test_errors_listed",
    )
    rows = [(key, _cell(value)) for key, value in data.items() if key not in skip]
    rows.append(("claims checked", f"test_accuracy >= {TEST_ACCURACY_CLAIM}"))
    return Outcome(data, rows, failures)


def _cell(value: Any) -> str:
    if isinstance(value, list) and value and isinstance(value[0], list):
        return ", ".join("(" + ", ".join(str(v) for v in pair) + ")" for pair in value)
    return fmt(value)


def write_out(
    out: Path,
    result: TransformerResult,
    analysis: AttentionAnalysis,
    data: dict[str, Any],
    meta: dict[str, Any],
) -> None:
    """DIR/history.json (provenance, config, every measurement), DIR/result.json (the JSON object
    of --json), DIR/params.npz (final float64 parameters) and the figures of
    experiments.plots_transformer, each written to a temporary name and renamed."""
    make_out_dir(out)
    history = {
        "provenance": meta,
        "config": result.config.as_dict(),
        "stop_reason": result.stop_reason,
        "history": [record.as_dict() for record in result.history],
    }
    write_atomic(out / "history.json", dumps(history))
    write_atomic(out / "result.json", dumps(data))
    buffer = io.BytesIO()
    arrays: dict[str, Any] = {**result.params, "meta": np.array(json.dumps(jsonable(meta)))}
    np.savez(buffer, **arrays)
    write_atomic(out / "params.npz", buffer.getvalue())
    save_transformer_plots(result, analysis, out)


def dumps(obj: Any) -> bytes:
    return (json.dumps(jsonable(obj), allow_nan=False, indent=1) + "\n").encode()
