"""A Nanda-style grokking model trained with TransformerLens (< 4), saved as its users save it,
read and analysed by the toolkit (issue 17's TransformerLens case).

    nice .venv/bin/python benchmarks/bench_lens.py                      # p = 31, k = 2, seed 0
    nice .venv/bin/python benchmarks/bench_lens.py --p 23 --steps 4000 --out /tmp/lens.pt

The model is Nanda et al.'s (arXiv 2301.05217) at a smaller p: HookedTransformerConfig(n_layers=1,
d_model=128, n_heads=4, d_head=32, d_mlp=512, act_fn="relu", normalization_type=None,
d_vocab=p+1, d_vocab_out=p, n_ctx=3), trained full batch on a random half of the p^2 pairs
[a, b, '='] ('=' is token p) with AdamW (lr 1e-3, weight decay 1, betas (0.9, 0.98)) and
cross-entropy at the last position, float32 as users train, until test accuracy is 1.0 (checked
every 100 steps) or --steps. The state dict is saved grokking-style, {"model": state_dict,
"config": {...}}, read back with constructions.foreign.load_state_dict, and analysed with
analyse_lens; the toolkit's logits are compared with TransformerLens's own forward pass (the
model cast to float64). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np


def nanda_config(p: int, *, seed: int) -> dict[str, object]:
    return {
        "n_layers": 1,
        "d_model": 128,
        "n_heads": 4,
        "d_head": 32,
        "d_mlp": 512,
        "act_fn": "relu",
        "normalization_type": None,
        "d_vocab": p + 1,
        "d_vocab_out": p,
        "n_ctx": 3,
        "seed": seed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--p", type=int, default=31)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--out", help="where to keep the checkpoint (default: a temporary file)")
    args = parser.parse_args()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import torch
        from transformer_lens import HookedTransformer, HookedTransformerConfig
    imported = time.perf_counter() - start
    torch.set_num_threads(1)  # one thread: on a shared machine two are 20x slower
    p = args.p
    cfg = HookedTransformerConfig(**nanda_config(p, seed=args.seed))  # type: ignore[arg-type]
    model = HookedTransformer(cfg)
    pairs = torch.cartesian_prod(torch.arange(p), torch.arange(p))
    tokens = torch.cat([pairs, torch.full((p * p, 1), p)], dim=1)
    labels = pairs.sum(dim=1) % p
    order = torch.randperm(p * p, generator=torch.Generator().manual_seed(args.seed))
    train, test = order[: p * p // 2], order[p * p // 2 :]
    optimiser = torch.optim.AdamW(
        model.parameters(), lr=args.lr, weight_decay=1.0, betas=(0.9, 0.98)
    )
    trained = time.perf_counter()
    step, test_accuracy = 0, 0.0
    while step < args.steps:
        logits = model(tokens[train])[:, -1]
        loss = torch.nn.functional.cross_entropy(logits, labels[train])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        step += 1
        if step % 100 == 0:
            with torch.no_grad():
                guess = model(tokens[test])[:, -1].argmax(dim=1)
            test_accuracy = float((guess == labels[test]).float().mean())
            if step % 1000 == 0:
                print(f"step {step}: test accuracy {test_accuracy:.3f}", file=sys.stderr)
            if test_accuracy == 1.0:
                break
    train_seconds = time.perf_counter() - trained
    target = Path(args.out) if args.out else Path(tempfile.mkdtemp()) / "grokking.pt"
    config = {key: value for key, value in nanda_config(p, seed=args.seed).items()}
    torch.save({"model": model.state_dict(), "config": config}, target)

    from fourier_circuits.constructions.foreign import (
        analyse_lens,
        lens_from_state,
        lens_logits,
        load_state_dict,
    )

    read = time.perf_counter()
    lens = lens_from_state(load_state_dict(target))
    analysis = analyse_lens(lens, seed=0)
    analyse_seconds = time.perf_counter() - read
    model64 = HookedTransformer(HookedTransformerConfig(**{**config, "dtype": torch.float64}))
    model64.load_state_dict(
        {
            k: v.to(torch.float64) if v.is_floating_point() else v
            for k, v in model.state_dict().items()
        }
    )
    inputs = pairs.numpy()
    with torch.no_grad():
        reference = model64(tokens)[:, -1].numpy()
    difference = float(np.abs(lens_logits(lens, inputs) - reference).max())
    data = analysis.as_dict()
    keep = (
        "accuracy",
        "key_frequencies",
        "neuron_single_frequency_fraction",
        "neurons_active",
        "logit_variance_explained_by_key_frequencies",
        "attention_fourier_concentration",
        "noise_concentration_q99",
        "eq_attention_concentration",
        "eq_noise_concentration_q99",
        "head_top_frequencies",
        "single_frequency_neurons_on_key_frequencies",
    )
    print(
        json.dumps(
            {
                "p": p,
                "seed": args.seed,
                "steps": step,
                "test_accuracy": test_accuracy,
                "train_seconds": round(train_seconds, 1),
                "import_seconds": round(imported, 1),
                "analyse_seconds": round(analyse_seconds, 2),
                "max_logit_difference_vs_transformer_lens": difference,
                "max_abs_logit": float(np.abs(reference).max()),
                **{key: data[key] for key in keep},
                "claims": {name: claim["holds"] for name, claim in data["claims"].items()},
                "checkpoint": str(target),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
