"""constructions.transformer.grokking: the typed result of grokking across k is what
`fourier-circuits grokking --json` prints, its failures are the CLI's, the step statistics are
the mean, min and max of the steps reached, and progress goes only through the callbacks."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from fourier_circuits.constructions.transformer import (
    TEST_ACCURACY_CLAIM,
    StepStats,
    TransformerConfig,
    TransformerRecord,
    grokking,
    problem_configs,
    step_stats,
)
from fourier_circuits.experiments import cmd_grokking
from fourier_circuits.experiments.cli import main
from fourier_circuits.theory import FourierCircuitsError

#: Four tiny runs (25 and 125 examples, 200 steps): a few seconds, and none generalises.
PROBLEMS = ((5, 2), (5, 3))
SEEDS = (0, 1)
ARGV = ("grokking", "--problems", "5,2;5,3", "--seeds", "0,1", "--steps", "200")
SETTINGS = {"steps": 200, "eval_every": 20}


def strip_seconds(data: dict) -> dict:
    """The JSON without the wall-clock per-run `seconds` (they differ between runs)."""
    rows = [{k: v for k, v in row.items() if k != "seconds"} for row in data["per_k"]]
    return {**data, "per_k": rows}


def test_cli_json_equals_the_typed_result(capsys: pytest.CaptureFixture[str]) -> None:
    code = main([*ARGV, "--eval-every", "20", "--json"])
    (line,) = capsys.readouterr().out.strip().splitlines()
    printed = json.loads(line)
    result = grokking(problem_configs(PROBLEMS, SEEDS, **SETTINGS))
    expected = result.as_dict()
    assert list(printed) == list(expected)
    assert strip_seconds(printed) == strip_seconds(expected)
    assert json.dumps(expected, allow_nan=False)
    # the typed fields are named as the JSON keys they give
    row, printed_row = result.per_k[1], printed["per_k"][1]
    assert (row.p, row.k, row.n_examples) == (5, 3, 125)
    assert printed_row["steps_to_train_099"] == list(row.steps_to_train_099)
    assert printed_row["grokking_delay"]["reached"] == row.grokking_delay.reached
    assert [len(runs) for runs in result.runs.values()] == [2, 2]
    # negative control: 200 steps do not generalise, every run fails the claim, exit status 1
    assert code == 1 and not result.ok and len(result.failures) == 4


def test_failures_are_the_cli_lines(capsys: pytest.CaptureFixture[str]) -> None:
    result = grokking(problem_configs(PROBLEMS, SEEDS, **SETTINGS))
    assert all(
        f.startswith(f"test accuracy >= {TEST_ACCURACY_CLAIM} for p=") for f in result.failures
    )
    assert main([*ARGV, "--eval-every", "20"]) == 1
    out = capsys.readouterr().out
    assert [
        line[len("FAILED: ") :] for line in out.splitlines() if line.startswith("FAILED")
    ] == list(result.failures)


def test_step_stats_are_the_mean_min_and_max_reached() -> None:
    assert step_stats([300, None, 100]) == StepStats(mean=200.0, min=100, max=300, reached=2)
    assert step_stats([None, None]) == StepStats(mean=None, min=None, max=None, reached=0)
    assert step_stats([-40, 20]) == StepStats(mean=-10.0, min=-40, max=20, reached=2)  # delays


def test_progress_goes_through_one_callback_per_run_in_order() -> None:
    configs = problem_configs(((5, 2),), (0, 1), steps=20, eval_every=10)
    seen: list[tuple[int, int]] = []

    def factory(config: TransformerConfig) -> Callable[[TransformerRecord, int], None]:
        def callback(record: TransformerRecord, total: int) -> None:
            seen.append((config.seed, record.step))

        return callback

    result = grokking(configs, callback_factory=factory)
    assert seen == [(0, 0), (0, 10), (0, 20), (1, 0), (1, 10), (1, 20)]
    assert result.per_k[0].seeds == (0, 1) and result.seeds == (0, 1)


def test_a_run_that_groks_reaches_with_a_delay() -> None:
    """The positive side of the control: (11, 3), seed 6 reaches 0.99 (about 300 steps), the
    training half no later than the held-out half."""
    result = grokking(problem_configs(((11, 3),), (6,)))
    (row,) = result.per_k
    assert result.ok and result.failures == ()
    assert row.test_099.reached == 1 and row.steps_to_test_099[0] is not None
    assert row.grokking_delay.min is not None and row.grokking_delay.min >= 0


@pytest.mark.parametrize(
    ("configs", "words"),
    [
        ({}, "configs is empty"),
        ({(5, 2): []}, r"configs\[\(5, 2\)\] is empty"),
        ({(5, 2): [TransformerConfig(p=5, k=3)]}, "holds a config of p=5, k=3"),
    ],
)
def test_bad_configs_are_named(configs: dict, words: str) -> None:
    with pytest.raises(FourierCircuitsError, match=words):
        grokking(configs)


def test_a_diverging_run_names_its_problem_and_seed() -> None:
    configs = problem_configs(((5, 2),), (3,), init_scale=1e30, steps=20, eval_every=1)
    with pytest.raises(FourierCircuitsError, match=r"^p=5, k=2, seed=3: .*non-finite"):
        grokking(configs)


def test_problem_lists_stay_importable_from_the_command() -> None:
    assert cmd_grokking.QUICK_PROBLEMS == ((47, 2), (13, 3), (7, 4), (5, 5))
    assert cmd_grokking.FULL_PROBLEMS == ((97, 2), (23, 3), (11, 4), (7, 5))
    assert cmd_grokking.SEEDS == (0, 1, 2)
