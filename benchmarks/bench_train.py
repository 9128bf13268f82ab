"""Steps and seconds each optimiser needs to reach margin_ratio 0.99 (issues 4 and 15's targets).

    .venv/bin/python benchmarks/bench_train.py                       # issue 4's four problems
    .venv/bin/python benchmarks/bench_train.py --problems "31,3;13,4;101,2" --seeds 0,1,2 \
        --minutes 10 --threads 1                                      # issue 15's targets

For each (p, k) at the paper's width 2^(2k-2)(p-1) and each optimiser with its default settings
(constructions.trained.DEFAULTS), trains until the claims hold (margin ratio >= 0.99, every
frequency covered, median maximum normalized power >= 0.95), the step budget is used or --minutes
have passed, and prints one table row per run: steps and seconds at the first measurement with
margin_ratio >= 0.99 (the measurement interval is eval_every = 50 steps), and the final (or, when
the run was cut off, the last measured) ratio, coverage and median power. The optimisers: margin
(the default), margin-adam (the default with lbfgs=False: Adam to the end, at the default's lr
0.003; the default before L-BFGS had lr 0.01), gd (Morwani et al.) and adamw (the paper's App.
J.1). Seconds are wall-clock time
including the measurements, on whatever else the machine is doing; each measurement is also
written to stderr as it happens (step, ratio, seconds), so a log shows the runs' progress.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from fourier_circuits.constructions.trained import (
    MARGIN_RATIO_CLAIM,
    OPTIMIZERS,
    HistoryRecord,
    TrainConfig,
    TrainingError,
    train,
)

#: The optimisers compared: each of OPTIMIZERS, and "margin" without its L-BFGS phase.
VARIANTS = {name: {"optimizer": name} for name in OPTIMIZERS} | {
    "margin-adam": {"optimizer": "margin", "lbfgs": False}
}


class TimeUpError(Exception):
    """Raised from the progress callback once a run has used its --minutes."""


def run_one(
    p: int, k: int, variant: str, seed: int, steps: int | None, minutes: float, threads: int | None
) -> dict[str, object]:
    config = TrainConfig(p=p, k=k, seed=seed, steps=steps, threads=threads, **VARIANTS[variant])
    start = time.perf_counter()
    seen: list[HistoryRecord] = []

    def progress(record: HistoryRecord, total: int) -> None:
        seen.append(record)
        print(
            f"bench_train: ({p}, {k}) {variant} seed {seed}: step {record.step}/{total}, "
            f"ratio {record.margin_ratio:.4f}, {record.seconds:.0f} s",
            file=sys.stderr,
            flush=True,
        )
        if record.seconds > 60 * minutes:
            raise TimeUpError

    row: dict[str, object] = {"p": p, "k": k, "optimizer": variant, "seed": seed}
    try:
        result = train(config, callback=progress)
    except (TrainingError, TimeUpError) as err:
        history = err.history if isinstance(err, TrainingError) else tuple(seen)
        hit = next((r for r in history if r.margin_ratio >= MARGIN_RATIO_CLAIM), None)
        last = history[-1] if history else None
        outcome = (
            f"{type(err).__name__} at step {err.step}"
            if isinstance(err, TrainingError)
            else f"cut off after {minutes:g} min"
        )
        row.update(
            outcome=outcome,
            steps_to_099=hit.step if hit else None,
            seconds_to_099=hit.seconds if hit else None,
            final_ratio=last.margin_ratio if last else None,
            coverage=last.frequencies_covered if last else None,
            median_power=last.max_normalized_power_median if last else None,
            steps=last.step if last else None,
            seconds=time.perf_counter() - start,
            width=config.m,
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
    parser.add_argument("--optimizers", default=",".join(VARIANTS), help=", ".join(VARIANTS))
    parser.add_argument("--seeds", default="0", help="seeds of the default optimizer 'margin'")
    parser.add_argument("--other-seeds", default="0", help="seeds of the other optimizers")
    parser.add_argument("--steps", type=int, default=None, help="step budget (default: each's)")
    parser.add_argument("--minutes", type=float, default=10.0, help="cut a run off after this")
    parser.add_argument("--threads", type=int, default=None, help="threads (default: train's)")
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
                row = run_one(p, k, optimizer, seed, args.steps, args.minutes, args.threads)
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
