"""Steps and seconds the one-layer Transformer needs to reach test accuracy 0.99 (issue 5's target).

    .venv/bin/python benchmarks/bench_transformer.py                   # (11, 3), seeds 0-4 + paper
    .venv/bin/python benchmarks/bench_transformer.py --problems 13,3 --variants default --seeds 0,1
    .venv/bin/python benchmarks/bench_transformer.py --variants paper --paper-steps 5000

Variants (constructions.transformer): "default" (TransformerConfig's CPU-sized defaults: d_model
32, 4 heads of width 8, MLP 512, AdamW lr 5e-3, weight decay 1, full batch); "paper" (the paper's
settings, paper_config: 160 heads, d_model 128, lr 1e-3, weight decay 1e-3, batch 1024, run for
--paper-steps steps at most); "paper-arch" (the paper's architecture with the default optimiser
settings). Each run stops at the first measurement (every eval_every = 100 steps) with test
accuracy >= 0.99 on the held-out half and prints one row: steps and seconds to that point, the
final accuracies (and "unseen": the held-out accuracy on the examples whose multiset is absent
from the training half / how many there are), the attention's Fourier concentration (top 4
classes, pooled over heads) and its top 2-D frequencies. Seconds are wall-clock time including
the measurements, on whatever else the machine is doing; the load average is printed with them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace

import numpy as np

from fourier_circuits.constructions.training import TrainingError
from fourier_circuits.constructions.transformer import (
    TEST_ACCURACY_CLAIM,
    TransformerConfig,
    paper_config,
    train_transformer,
)
from fourier_circuits.theory import noise_concentration

VARIANTS = ("default", "paper", "paper-arch")


def config_for(variant: str, p: int, k: int, seed: int, paper_steps: int) -> TransformerConfig:
    default = TransformerConfig(p=p, k=k, seed=seed)
    if variant == "default":
        return default
    if variant == "paper":
        return paper_config(p, k, seed=seed, steps=paper_steps)
    # the paper's architecture, the default optimiser settings
    paper = paper_config(p, k, seed=seed, steps=paper_steps)
    return replace(paper, lr=default.lr, weight_decay=default.weight_decay, batch_size=None)


def run_one(config: TransformerConfig, variant: str) -> dict[str, object]:
    row: dict[str, object] = {"p": config.p, "k": config.k, "variant": variant, "seed": config.seed}
    try:
        result = train_transformer(config)
    except TrainingError as err:
        row.update(outcome=f"{type(err).__name__} at step {err.step}")
        return row
    hit = result.first_reaching(TEST_ACCURACY_CLAIM)
    analysis = result.analysis()
    where = result.multisets()
    row.update(
        outcome=result.stop_reason,
        steps_to_099=hit.step if hit else None,
        seconds_to_099=hit.seconds if hit else None,
        train_accuracy=result.final.train_accuracy,
        test_accuracy=result.final.test_accuracy,
        unseen_accuracy=where.unseen_accuracy,
        unseen_examples=where.unseen,
        seen_errors=where.seen_errors,
        concentration=analysis.concentration,
        top_frequencies=[list(f) for f in analysis.top_frequencies],
        embedding_frequencies=list(analysis.embedding_frequencies),
        steps=result.steps,
        seconds=result.seconds,
        threads=result.threads,
        load=os.getloadavg()[0],
    )
    return row


def fmt(value: object, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", default="11,3", help="p,k;p,k;...")
    parser.add_argument("--variants", default="default,paper", help=",".join(VARIANTS))
    parser.add_argument("--seeds", default="0,1,2,3,4", help="seeds of the default variant")
    parser.add_argument("--other-seeds", default="0", help="seeds of the other variants")
    parser.add_argument("--paper-steps", type=int, default=3000, help="step budget of paper*")
    parser.add_argument("--json", action="store_true", help="one JSON object per row")
    args = parser.parse_args(argv)
    if not args.json:
        print(
            f"{'p':>3} {'k':>2} {'variant':>10} {'seed':>4} {'steps@.99':>9} {'s@.99':>7} "
            f"{'train':>6} {'test':>6} {'unseen':>11} {'conc':>5} {'load':>5}  "
            "top frequencies  outcome"
        )
    for problem in args.problems.split(";"):
        p, k = (int(x) for x in problem.split(","))
        if not args.json:
            level = noise_concentration(p, rng=np.random.default_rng(0))
            print(f"# p={p}: concentration of i.i.d. Gaussian matrices {level:.3f}")
        for variant in args.variants.split(","):
            seeds = args.seeds if variant == "default" else args.other_seeds
            for seed in (int(s) for s in seeds.split(",")):
                row = run_one(config_for(variant, p, k, seed, args.paper_steps), variant)
                if args.json:
                    print(json.dumps(row), flush=True)
                    continue
                top = " ".join(f"({a},{b})" for a, b in row.get("top_frequencies", []))  # type: ignore[attr-defined]
                print(
                    f"{p:>3} {k:>2} {variant:>10} {seed:>4} "
                    f"{fmt(row.get('steps_to_099'), 'd'):>9} "
                    f"{fmt(row.get('seconds_to_099'), '.1f'):>7} "
                    f"{fmt(row.get('train_accuracy'), '.3f'):>6} "
                    f"{fmt(row.get('test_accuracy'), '.3f'):>6} "
                    f"{fmt(row.get('unseen_accuracy'), '.3f'):>5}/"
                    f"{fmt(row.get('unseen_examples'), 'd'):<5} "
                    f"{fmt(row.get('concentration'), '.3f'):>5} {fmt(row.get('load'), '.2f'):>5}  "
                    f"{top}  {row['outcome']}",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
