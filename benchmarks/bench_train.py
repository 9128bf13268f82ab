"""Steps and seconds each optimiser needs to reach margin_ratio 0.99 (issue 4's targets).

    .venv/bin/python benchmarks/bench_train.py                       # the four targets
    .venv/bin/python benchmarks/bench_train.py --problems 13,2 --optimizers margin --seeds 0,1,2

For each (p, k) at the paper's width 2^(2k-2)(p-1) and each optimiser with its default settings
(constructions.trained.DEFAULTS), trains until the claims hold (margin ratio >= 0.99, every
frequency covered, median maximum normalized power >= 0.95) or the step budget is used, and prints
one table row per run: steps and seconds at the first measurement with margin_ratio >= 0.99 (the
measurement interval is eval_every = 50 steps), and the final ratio, coverage and median power.
Seconds are wall-clock time including the measurements, on whatever else the machine is doing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from fourier_circuits.constructions.trained import (
    MARGIN_RATIO_CLAIM,
    OPTIMIZERS,
    TrainConfig,
    TrainingError,
    train,
)


def run_one(p: int, k: int, optimizer: str, seed: int, steps: int | None) -> dict[str, object]:
    config = TrainConfig(p=p, k=k, optimizer=optimizer, seed=seed, steps=steps)
    start = time.perf_counter()
    row: dict[str, object] = {"p": p, "k": k, "optimizer": optimizer, "seed": seed}
    try:
        result = train(config)
    except TrainingError as err:
        history = err.history
        best = max((r.margin_ratio for r in history), default=float("nan"))
        row.update(
            outcome=f"{type(err).__name__} at step {err.step}",
            steps_to_099=None,
            seconds_to_099=None,
            final_ratio=best,
            coverage=None,
            median_power=None,
            steps=err.step,
            seconds=time.perf_counter() - start,
        )
        return row
    hit = result.first_reaching(MARGIN_RATIO_CLAIM)
    final = result.final
    row.update(
        outcome=result.stop_reason,
        steps_to_099=hit.step if hit else None,
        seconds_to_099=hit.seconds if hit else None,
        final_ratio=final.margin_ratio,
        coverage=final.frequencies_covered,
        median_power=final.max_normalized_power_median,
        steps=result.steps,
        seconds=result.seconds,
        threads=result.threads,
        width=result.config.width,
    )
    return row


def fmt(value: object, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", default="13,2;23,2;7,3;11,3", help="p,k;p,k;...")
    parser.add_argument("--optimizers", default=",".join(OPTIMIZERS))
    parser.add_argument("--seeds", default="0", help="seeds of the default optimizer 'margin'")
    parser.add_argument("--other-seeds", default="0", help="seeds of the other optimizers")
    parser.add_argument("--steps", type=int, default=None, help="step budget (default: each's)")
    parser.add_argument("--json", action="store_true", help="one JSON object per row")
    args = parser.parse_args(argv)
    header = (
        f"{'p':>3} {'k':>2} {'optimizer':>9} {'seed':>4} {'steps@.99':>9} {'s@.99':>7} "
        f"{'ratio':>7} {'cover':>5} {'power':>6} {'steps':>6} {'s':>7}  outcome"
    )
    if not args.json:
        print(header)
    for problem in args.problems.split(";"):
        p, k = (int(x) for x in problem.split(","))
        for optimizer in args.optimizers.split(","):
            seeds = args.seeds if optimizer == "margin" else args.other_seeds
            for seed in (int(s) for s in seeds.split(",")):
                row = run_one(p, k, optimizer, seed, args.steps)
                if args.json:
                    print(json.dumps(row), flush=True)
                    continue
                print(
                    f"{p:>3} {k:>2} {optimizer:>9} {seed:>4} "
                    f"{fmt(row['steps_to_099'], 'd'):>9} {fmt(row['seconds_to_099'], '.1f'):>7} "
                    f"{fmt(row['final_ratio'], '.4f'):>7} {fmt(row['coverage'], '.2f'):>5} "
                    f"{fmt(row['median_power'], '.4f'):>6} {fmt(row['steps'], 'd'):>6} "
                    f"{fmt(row['seconds'], '.1f'):>7}  {row['outcome']}",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
