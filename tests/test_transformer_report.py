"""constructions.transformer.report: the typed measurements of a Transformer run are what
`fourier-circuits transformer --json` prints, its failures are the CLI's, and the command modules
are thin adapters that import no sibling command."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest

from fourier_circuits.constructions.transformer import (
    NOISE_SAMPLES,
    TEST_ACCURACY_CLAIM,
    TransformerConfig,
    TransformerReport,
    report,
    train_transformer,
)
from fourier_circuits.experiments.cli import main
from fourier_circuits.theory import FourierCircuitsError, noise_concentration

ROOT = Path(__file__).resolve().parent.parent
#: Wall-clock keys: they differ between two runs of the same config.
CLOCK = ("seconds", "seconds_to_test_099")
#: p = 5, k = 2 for 200 steps: a second to train, and too few steps to generalise.
TINY = ("--p", "5", "--k", "2", "--steps", "200")


def cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = main([*argv, "--json"])
    out = capsys.readouterr().out
    (line,) = out.strip().splitlines()
    return code, json.loads(line)


def without_clock(data: dict) -> dict:
    return {key: value for key, value in data.items() if key not in CLOCK}


def test_cli_json_equals_the_typed_report(capsys: pytest.CaptureFixture[str]) -> None:
    code, printed = cli_json(capsys, "transformer", *TINY)
    measured = report(train_transformer(TransformerConfig(p=5, k=2, seed=0, steps=200)))
    expected = measured.as_dict()
    assert list(printed) == list(expected)  # the same keys in the same order
    assert without_clock(printed) == without_clock(expected)
    assert json.dumps(expected, allow_nan=False)  # JSON-ready: no NaN, no numpy scalars
    # the typed fields are named as the keys they give
    assert printed["test_accuracy"] == measured.test_accuracy
    assert printed["attention_fourier_concentration"] == measured.attention_fourier_concentration
    assert printed["noise_concentration"] == measured.noise_concentration
    assert printed["steps_to_train_099"] == measured.steps_to_train_099
    assert printed["test_errors_unseen_multisets"] == measured.multisets.unseen_errors
    assert code == (0 if measured.ok else 1)


def test_a_run_stopped_too_early_fails_the_claim_as_the_cli_says(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Negative control: 20 steps do not generalise; the report names the failure in the CLI's
    words, and the CLI exits 1 printing exactly that line."""
    config = TransformerConfig(p=7, k=3, seed=0, steps=20, eval_every=10)
    measured = report(train_transformer(config))
    assert measured.test_accuracy < TEST_ACCURACY_CLAIM and not measured.ok
    (failure,) = measured.failures
    assert failure.startswith(f"test accuracy >= {TEST_ACCURACY_CLAIM}")
    assert "whose multiset is absent from training" in failure
    assert measured.steps_to_test_099 is None and measured.seconds_to_test_099 is None
    code = main(["transformer", "--p", "7", "--k", "3", "--steps", "20", "--eval-every", "10"])
    out = capsys.readouterr().out
    assert code == 1
    assert f"FAILED: {failure}\n" in out


def test_a_run_that_reaches_the_target_has_no_failures() -> None:
    """The positive side of the control above: (11, 3) with seed 6 reaches 0.99 in ~300 steps."""
    measured = report(train_transformer(TransformerConfig(p=11, k=3, seed=6)))
    assert measured.ok and measured.failures == ()
    assert measured.stop_reason == "target"
    assert measured.steps_to_test_099 == measured.steps
    assert measured.steps_to_train_099 is not None
    assert measured.steps_to_train_099 <= measured.steps_to_test_099


def test_noise_level_follows_its_seed_and_samples() -> None:
    """The noise level is drawn from default_rng(noise_seed), the run's seed by default; another
    seed or fewer samples move it (so the report does not ignore them)."""
    result = train_transformer(TransformerConfig(p=5, k=2, seed=3, steps=1, target_accuracy=None))
    default = report(result)
    assert default.noise_concentration == report(result, noise_seed=3).noise_concentration
    assert default.noise_concentration != report(result, noise_seed=4).noise_concentration
    few = report(result, noise_samples=5)
    assert few.noise_concentration != default.noise_concentration
    # the CLI's level: NOISE_SAMPLES matrices from the run's seed
    level = noise_concentration(5, samples=NOISE_SAMPLES, rng=np.random.default_rng(3))
    assert default.noise_concentration == level


def test_report_refuses_a_bad_n_top() -> None:
    result = train_transformer(TransformerConfig(p=5, k=2, steps=1, target_accuracy=None))
    with pytest.raises(FourierCircuitsError, match="n_top"):
        report(result, n_top=0)
    assert isinstance(report(result, n_top=12), TransformerReport)  # (25 - 1) / 2 classes


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("name", ["cmd_transformer", "cmd_grokking"])
def test_command_modules_import_no_sibling_command(name: str) -> None:
    imported = _imports(ROOT / "experiments" / f"{name}.py")
    siblings = {m for m in imported if m.startswith("fourier_circuits.experiments.cmd_")}
    assert not siblings, siblings
    assert "fourier_circuits.experiments.transformer_args" in imported  # the shared helpers


def test_constructions_transformer_imports_no_experiments() -> None:
    for path in sorted((ROOT / "constructions" / "transformer").glob("*.py")):
        upward = {m for m in _imports(path) if m.startswith("fourier_circuits.experiments")}
        assert not upward, (path.name, upward)
