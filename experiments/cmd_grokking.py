"""`fourier-circuits grokking [--quick] [--problems "P,K;P,K;..."] [--seeds 0,1,2] [--out DIR]`.

The paper's Fig. 4 (arXiv 2402.09469: k = 2, 3, 4, 5 with p = 97, 31, 11, 5, 50% training data),
scaled to a CPU: for each k a p with p^k about equal, the one-layer Transformer of
`fourier-circuits transformer` (same defaults and flags) trained on a random half for each seed,
stopping once the test accuracy reaches 0.99. Reported per (p, k): the steps at which train and
test accuracy first reach 0.99 (mean, min, max over seeds) and their difference, the grokking
delay. The paper says grokking weakens as k grows: the delay is reported, not checked (it is noisy
at this size). Checked claim: every run reaches test accuracy >= 0.99 within --steps.
--out DIR writes grokking.png (train and test accuracy, mean over seeds with the min-max band),
history.json (every run's measurements) and result.json.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from fourier_circuits.constructions.transformer import TEST_ACCURACY_CLAIM, TransformerResult
from fourier_circuits.experiments.cmd_transformer import (
    add_model_arguments,
    dumps,
    model_config,
    run_training,
)
from fourier_circuits.experiments.outcome import Outcome, fmt
from fourier_circuits.experiments.outputs import (
    make_out_dir,
    require_writable_dir,
    write_atomic,
)
from fourier_circuits.experiments.plots import save_figure
from fourier_circuits.experiments.plots_transformer import grokking_figure
from fourier_circuits.experiments.provenance import provenance
from fourier_circuits.theory import FourierCircuitsError, Task
from fourier_circuits.theory.serialise import jsonable

NAME = "grokking"

#: (p, k) with p^k about equal: 2209, 2197, 2401, 3125 examples (--quick).
QUICK_PROBLEMS = ((47, 2), (13, 3), (7, 4), (5, 5))
#: Larger, nearer the paper's sizes: 9409, 12167, 14641, 16807 examples.
FULL_PROBLEMS = ((97, 2), (23, 3), (11, 4), (7, 5))
SEEDS = (0, 1, 2)
#: Measurement interval of --quick (the runs are short; the curves need points).
QUICK_EVAL_EVERY = 50


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


def _stats(values: list[int | None]) -> dict[str, float | int | None]:
    """mean, min, max of the steps that were reached (None where no run reached)."""
    reached = [v for v in values if v is not None]
    if not reached:
        return {"mean": None, "min": None, "max": None, "reached": 0}
    return {
        "mean": sum(reached) / len(reached),
        "min": min(reached),
        "max": max(reached),
        "reached": len(reached),
    }


def _first(result: TransformerResult, attribute: str) -> int | None:
    return next(
        (r.step for r in result.history if getattr(r, attribute) >= TEST_ACCURACY_CLAIM), None
    )


def run(args: argparse.Namespace) -> Outcome:
    problems = _problems(args)
    seeds = _seeds(args.seeds)
    if args.quick and args.eval_every is None:
        args.eval_every = QUICK_EVAL_EVERY
    configs = {
        (p, k): [model_config(args, p, k, seed) for seed in seeds] for p, k in problems
    }  # every config validated before any training
    out = require_writable_dir(args.out) if args.out else None
    runs: dict[tuple[int, int], list[TransformerResult]] = {}
    per_k: list[dict[str, Any]] = []
    failures: list[str] = []
    for (p, k), problem_configs in configs.items():
        results = [
            run_training(config, desc=f"p={p} k={k} seed={config.seed}")
            for config in problem_configs
        ]
        runs[(p, k)] = results
        test_steps = [_first(r, "test_accuracy") for r in results]
        train_steps = [_first(r, "train_accuracy") for r in results]
        delays = [
            None if te is None or tr is None else te - tr
            for te, tr in zip(test_steps, train_steps, strict=True)
        ]
        where = [r.multisets() for r in results]
        per_k.append(
            {
                "p": p,
                "k": k,
                "n_examples": p**k,
                "seeds": list(seeds),
                "steps_to_test_099": test_steps,
                "steps_to_train_099": train_steps,
                "seconds": [r.seconds for r in results],
                "final_test_accuracy": [r.final.test_accuracy for r in results],
                # held-out examples whose multiset is absent from training, and the accuracy there
                "test_examples_unseen_multisets": [w.unseen for w in where],
                "test_accuracy_unseen_multisets": [w.unseen_accuracy for w in where],
                "test_099": _stats(test_steps),
                "train_099": _stats(train_steps),
                "grokking_delay": _stats(delays),
            }
        )
        failures += [
            f"test accuracy >= {TEST_ACCURACY_CLAIM} for p={p}, k={k}, seed={r.config.seed}: "
            f"{r.final.test_accuracy:.6g} after {r.steps} steps ({w.unseen_errors} of "
            f"{w.unseen} wrong whose multiset is absent from training)"
            for r, w in zip(results, where, strict=True)
            if r.first_reaching(TEST_ACCURACY_CLAIM) is None
        ]
    data: dict[str, Any] = {
        "problems": [list(pk) for pk in problems],
        "seeds": list(seeds),
        "per_k": per_k,
        "claims": {"every_run_test_accuracy_at_least": TEST_ACCURACY_CLAIM},
        "config": configs[problems[0]][0].as_dict(),
    }
    if out is not None:
        _write_out(out, runs, data)
        data["out"] = str(out)
    data = jsonable(data)
    rows = [
        (
            f"k={row['k']}, p={row['p']} (p^k={row['n_examples']})",
            f"test 0.99 at {_band(row['test_099'])}, train 0.99 at {_band(row['train_099'])}, "
            f"delay {_band(row['grokking_delay'])} steps",
        )
        for row in per_k
    ]
    rows.append(("claims checked", f"every run reaches test_accuracy >= {TEST_ACCURACY_CLAIM}"))
    return Outcome(data, rows, failures)


def _band(stats: dict[str, Any]) -> str:
    if stats["mean"] is None:
        return "-"
    return f"{fmt(float(stats['mean']))} [{stats['min']}, {stats['max']}]"


def _write_out(
    out: Path, runs: dict[tuple[int, int], list[TransformerResult]], data: dict[str, Any]
) -> None:
    make_out_dir(out)
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
    write_atomic(out / "history.json", dumps(history))
    write_atomic(out / "result.json", dumps(data))
    save_figure(grokking_figure(runs), out / "grokking.png")
