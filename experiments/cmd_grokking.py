"""`fourier-circuits grokking [--quick] [--problems "P,K;P,K;..."] [--seeds 0,1,2]
[--out DIR [--force]]`.

The paper's Fig. 4 (arXiv 2402.09469: k = 2, 3, 4, 5 with p = 97, 31, 11, 5, 50% training data),
scaled to a CPU: for each k a p with p^k about equal, the one-layer Transformer of
`fourier-circuits transformer` (same defaults and flags) trained on a random half for each seed,
stopping once the test accuracy reaches 0.99. Reported per (p, k): the steps at which train and
test accuracy first reach 0.99 (mean, min, max over seeds) and their difference, the grokking
delay. The paper says grokking weakens as k grows: the delay is reported, not checked (it is noisy
at this size). Checked claim: every run reaches test accuracy >= 0.99 within --steps.
--out DIR writes grokking.png (train and test accuracy, mean over seeds with the min-max band),
history.json (every run's measurements) and result.json.
The runs and their measurements are constructions.transformer.grokking (module across_k: a
GrokkingResult, whose as_dict() is the JSON object); this module parses, shows progress, writes.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from fourier_circuits.constructions.transformer import (
    FULL_PROBLEMS,
    QUICK_EVAL_EVERY,
    QUICK_PROBLEMS,
    SEEDS,
    TEST_ACCURACY_CLAIM,
    GrokkingResult,
    grokking,
)
from fourier_circuits.experiments.outcome import Outcome, fmt
from fourier_circuits.experiments.outputs import (
    Staged,
    add_force_argument,
    check_out,
    json_file,
    write_atomic,
)
from fourier_circuits.experiments.plots import save_figure
from fourier_circuits.experiments.plots_transformer import grokking_figure
from fourier_circuits.experiments.provenance import provenance
from fourier_circuits.experiments.transformer_args import (
    ProgressBars,
    add_model_arguments,
    model_config,
)
from fourier_circuits.theory import FourierCircuitsError, Task

NAME = "grokking"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quick", action="store_true", help="p^k ~ 2200-3100 (minutes) instead of ~1e4"
    )
    parser.add_argument("--problems", help='"P,K;P,K;..." (overrides --quick\'s choice)')
    parser.add_argument("--seeds", default=",".join(map(str, SEEDS)), help="default 0,1,2")
    add_model_arguments(parser)
    parser.add_argument(
        "--out", metavar="DIR", help="write grokking.png, history.json, result.json"
    )
    add_force_argument(parser)


def _problems(args: argparse.Namespace) -> tuple[tuple[int, int], ...]:
    if args.problems is None:
        return QUICK_PROBLEMS if args.quick else FULL_PROBLEMS
    problems = []
    for item in args.problems.split(";"):
        try:
            p, k = (int(x) for x in item.split(","))
        except ValueError:
            raise FourierCircuitsError(
                f"--problems {args.problems!r}: {item!r} is not 'P,K' (e.g. \"13,3;7,4\")"
            ) from None
        task = Task(p, k)  # validates p and k
        problems.append((task.p, task.k))
    return tuple(problems)


def _seeds(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(s) for s in text.split(","))
    except ValueError:
        raise FourierCircuitsError(
            f"--seeds {text!r} must be integers separated by commas"
        ) from None
    if not seeds or min(seeds) < 0:
        raise FourierCircuitsError(f"--seeds {text!r} must be integers >= 0")
    return seeds


def run(args: argparse.Namespace) -> Outcome:
    problems = _problems(args)
    seeds = _seeds(args.seeds)
    if args.quick and args.eval_every is None:
        args.eval_every = QUICK_EVAL_EVERY
    configs = {
        (p, k): [model_config(args, p, k, seed) for seed in seeds] for p, k in problems
    }  # every config validated before any training
    out = check_out(args.out, force=args.force) if args.out is not None else None
    with Staged(out=out, force=args.force) as stage:
        bars = ProgressBars()
        try:
            result = grokking(configs, callback_factory=bars)
        finally:
            bars.close()
        data = result.as_dict()
        # the problems as given, a repeated one listed again (it is trained once)
        data["problems"] = [list(pk) for pk in problems]
        if stage.dir is not None:
            _write_out(stage.dir, result, data)
    if out is not None:
        data["out"] = str(out)
    rows = [
        (
            f"k={row['k']}, p={row['p']} (p^k={row['n_examples']})",
            f"test 0.99 at {_band(row['test_099'])}, train 0.99 at {_band(row['train_099'])}, "
            f"delay {_band(row['grokking_delay'])} steps",
        )
        for row in data["per_k"]
    ]
    rows.append(("claims checked", f"every run reaches test_accuracy >= {TEST_ACCURACY_CLAIM}"))
    return Outcome(data, rows, list(result.failures))


def _band(stats: dict[str, Any]) -> str:
    if stats["mean"] is None:
        return "-"
    return f"{fmt(float(stats['mean']))} [{stats['min']}, {stats['max']}]"


def _write_out(out: Path, result: GrokkingResult, data: dict[str, Any]) -> None:
    """DIR/history.json (provenance, every run's measurements), DIR/result.json (the JSON object
    of --json) and DIR/grokking.png, each written to a temporary name and renamed."""
    runs = result.runs
    meta = provenance(command=NAME, seeds=data["seeds"], config=data["config"])
    history = {
        "provenance": meta,
        "runs": [
            {
                "p": p,
                "k": k,
                "seed": r.config.seed,
                "stop_reason": r.stop_reason,
                "history": [record.as_dict() for record in r.history],
            }
            for (p, k), results in runs.items()
            for r in results
        ],
    }
    write_atomic(out / "history.json", json_file(history))
    write_atomic(out / "result.json", json_file(data))
    save_figure(grokking_figure(runs), out / "grokking.png")
