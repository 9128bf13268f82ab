"""Grokking across k (Fig. 4 of arXiv 2402.09469): the Transformer trained on several (p, k)
problems for several seeds, and when its train and test accuracy first reach TEST_ACCURACY_CLAIM.

The paper trains k = 2, 3, 4, 5 with p = 97, 31, 11, 5 (p^k about equal) on a random half and
says grokking weakens as k grows. grokking(configs) trains every config of every problem in order
and reports per (p, k) the steps at which train and test accuracy first reach the claim (their
mean, min and max over seeds), their difference (the grokking delay), and the held-out examples
whose multiset is absent from training. The delay is reported, not checked; the checked claim is
that every run reaches test accuracy >= TEST_ACCURACY_CLAIM. GrokkingResult.as_dict() is the JSON
object of `fourier-circuits grokking`.

    from fourier_circuits.constructions import transformer as tf
    result = tf.grokking(tf.problem_configs(((11, 3),), (0, 1), steps=2000))
    result.per_k[0].grokking_delay.mean, result.failures

Pure: no printing, no files; progress goes to the callbacks of `callback_factory`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from fourier_circuits.constructions.training import TrainingError
from fourier_circuits.constructions.transformer.config import TEST_ACCURACY_CLAIM, TransformerConfig
from fourier_circuits.constructions.transformer.loop import Callback, train_transformer
from fourier_circuits.constructions.transformer.multisets import MultisetBreakdown
from fourier_circuits.constructions.transformer.result import TransformerResult
from fourier_circuits.theory import FourierCircuitsError
from fourier_circuits.theory.serialise import jsonable

Problem = tuple[int, int]
#: Makes the progress callback of one run (None: no progress) just before it trains.
CallbackFactory = Callable[[TransformerConfig], Callback | None]

#: (p, k) with p^k about equal: 2209, 2197, 2401, 3125 examples (`grokking --quick`).
QUICK_PROBLEMS: tuple[Problem, ...] = ((47, 2), (13, 3), (7, 4), (5, 5))
#: Larger, nearer the paper's sizes: 9409, 12167, 14641, 16807 examples.
FULL_PROBLEMS: tuple[Problem, ...] = ((97, 2), (23, 3), (11, 4), (7, 5))
#: The seeds of each problem.
SEEDS = (0, 1, 2)
#: Measurement interval of the quick problems (the runs are short; the curves need points).
QUICK_EVAL_EVERY = 50


@dataclass(frozen=True)
class StepStats:
    """mean, min, max over the runs that reached (None, and reached 0, where none did)."""

    mean: float | None
    min: int | None
    max: int | None
    reached: int


def step_stats(values: Sequence[int | None]) -> StepStats:
    """The StepStats of `values`, None meaning the run never reached."""
    reached = [v for v in values if v is not None]
    if not reached:
        return StepStats(mean=None, min=None, max=None, reached=0)
    return StepStats(
        mean=sum(reached) / len(reached), min=min(reached), max=max(reached), reached=len(reached)
    )


@dataclass(frozen=True)
class GrokkingRow:
    """One (p, k) problem over its seeds; every tuple has one entry per seed (in `seeds` order).

    steps_to_test_099 / steps_to_train_099: the first measured step with test / train accuracy
        >= TEST_ACCURACY_CLAIM (None: never); seconds: each run's training time;
    final_test_accuracy: at the run's last measurement;
    test_examples_unseen_multisets / test_accuracy_unseen_multisets: the held-out examples whose
        multiset is absent from training, and the accuracy there;
    test_099, train_099, grokking_delay: step_stats of the test and train steps and of their
        difference (test - train; None where either is None);
    runs, multisets: the runs themselves and their MultisetBreakdowns (not in the JSON).
    """

    p: int
    k: int
    n_examples: int
    seeds: tuple[int, ...]
    steps_to_test_099: tuple[int | None, ...]
    steps_to_train_099: tuple[int | None, ...]
    seconds: tuple[float, ...]
    final_test_accuracy: tuple[float, ...]
    test_examples_unseen_multisets: tuple[int, ...]
    test_accuracy_unseen_multisets: tuple[float, ...]
    test_099: StepStats
    train_099: StepStats
    grokking_delay: StepStats
    runs: tuple[TransformerResult, ...]
    multisets: tuple[MultisetBreakdown, ...]

    def failures(self, claim: float = TEST_ACCURACY_CLAIM) -> list[str]:
        """Each run that never reached test accuracy >= claim, named with its value."""
        return [
            f"test accuracy >= {claim} for p={self.p}, k={self.k}, seed={r.config.seed}: "
            f"{r.final.test_accuracy:.6g} after {r.steps} steps ({w.unseen_errors} of "
            f"{w.unseen} wrong whose multiset is absent from training)"
            for r, w in zip(self.runs, self.multisets, strict=True)
            if r.first_reaching(claim) is None
        ]

    def as_dict(self) -> dict[str, Any]:
        """The row of `per_k` in the JSON (JSON-ready; without runs and multisets)."""
        return {
            f.name: jsonable(getattr(self, f.name))
            for f in fields(self)
            if f.name not in ("runs", "multisets")
        }


@dataclass(frozen=True)
class GrokkingResult:
    """Every problem's GrokkingRow (`per_k`, in the order trained) and the checked claim.

    problems: the (p, k) trained; seeds: every seed used, in first-seen order;
    config: the first run's config (the settings the others share besides p, k and seed);
    failures: the runs that never reached test accuracy >= claim.
    """

    problems: tuple[Problem, ...]
    seeds: tuple[int, ...]
    per_k: tuple[GrokkingRow, ...]
    config: TransformerConfig
    failures: tuple[str, ...]
    claim: float = TEST_ACCURACY_CLAIM

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def runs(self) -> dict[Problem, list[TransformerResult]]:
        """Each problem's runs (for the figures and the history)."""
        return {(row.p, row.k): list(row.runs) for row in self.per_k}

    def as_dict(self) -> dict[str, Any]:
        """The JSON object of `fourier-circuits grokking --json` (without `out`), JSON-ready."""
        return {
            "problems": [list(pk) for pk in self.problems],
            "seeds": list(self.seeds),
            "per_k": [row.as_dict() for row in self.per_k],
            "claims": {"every_run_test_accuracy_at_least": self.claim},
            "config": jsonable(self.config.as_dict()),
        }


def problem_configs(
    problems: Sequence[Problem],
    seeds: Sequence[int] = SEEDS,
    *,
    make: Callable[..., TransformerConfig] = TransformerConfig,
    **settings: Any,
) -> dict[Problem, list[TransformerConfig]]:
    """For each (p, k), one config per seed: make(p=p, k=k, seed=seed, **settings), every one
    built (and so validated) before any training."""
    return {(p, k): [make(p=p, k=k, seed=s, **settings) for s in seeds] for p, k in problems}


def train_named(
    config: TransformerConfig, *, callback: Callback | None = None
) -> TransformerResult:
    """train_transformer(config), a TrainingError (diverged, stalled) re-raised as a
    FourierCircuitsError that starts with the run's p, k and seed."""
    try:
        return train_transformer(config, callback=callback)
    except TrainingError as err:
        raise FourierCircuitsError(
            f"p={config.p}, k={config.k}, seed={config.seed}: {err}"
        ) from None


def _first(result: TransformerResult, attribute: str) -> int | None:
    """The first measured step with `attribute` >= TEST_ACCURACY_CLAIM (None: never)."""
    return next(
        (r.step for r in result.history if getattr(r, attribute) >= TEST_ACCURACY_CLAIM), None
    )


def grokking_row(p: int, k: int, results: Sequence[TransformerResult]) -> GrokkingRow:
    """The GrokkingRow of the finished runs `results` of problem (p, k)."""
    test_steps = tuple(_first(r, "test_accuracy") for r in results)
    train_steps = tuple(_first(r, "train_accuracy") for r in results)
    delays = [
        None if te is None or tr is None else te - tr
        for te, tr in zip(test_steps, train_steps, strict=True)
    ]
    where = tuple(r.multisets() for r in results)
    return GrokkingRow(
        p=p,
        k=k,
        n_examples=p**k,
        seeds=tuple(r.config.seed for r in results),
        steps_to_test_099=test_steps,
        steps_to_train_099=train_steps,
        seconds=tuple(r.seconds for r in results),
        final_test_accuracy=tuple(r.final.test_accuracy for r in results),
        test_examples_unseen_multisets=tuple(w.unseen for w in where),
        test_accuracy_unseen_multisets=tuple(w.unseen_accuracy for w in where),
        test_099=step_stats(test_steps),
        train_099=step_stats(train_steps),
        grokking_delay=step_stats(delays),
        runs=tuple(results),
        multisets=where,
    )


def grokking(
    configs: Mapping[Problem, Sequence[TransformerConfig]],
    *,
    callback_factory: CallbackFactory | None = None,
) -> GrokkingResult:
    """Train every config of every problem (in order; see the module docstring) and measure when
    train and test accuracy first reach TEST_ACCURACY_CLAIM.

    configs: (p, k) -> the runs of that problem, e.g. problem_configs(problems, seeds);
    callback_factory(config): called just before each run trains, returns its progress callback.
    A run that diverges or stalls raises FourierCircuitsError naming its p, k and seed.
    """
    problems = tuple(configs)
    if not problems:
        raise FourierCircuitsError("configs is empty: grokking needs at least one (p, k) problem")
    for (p, k), runs in configs.items():
        if not runs:
            raise FourierCircuitsError(f"configs[({p}, {k})] is empty: give at least one config")
        wrong = [c for c in runs if (c.p, c.k) != (p, k)]
        if wrong:
            raise FourierCircuitsError(
                f"configs[({p}, {k})] holds a config of p={wrong[0].p}, k={wrong[0].k}"
            )
    rows = []
    for (p, k), runs in configs.items():
        results = [
            train_named(c, callback=callback_factory(c) if callback_factory else None) for c in runs
        ]
        rows.append(grokking_row(p, k, results))
    seeds = tuple(dict.fromkeys(c.seed for runs in configs.values() for c in runs))
    return GrokkingResult(
        problems=problems,
        seeds=seeds,
        per_k=tuple(rows),
        config=configs[problems[0]][0],
        failures=tuple(f for row in rows for f in row.failures()),
    )
