"""The command line is a thin adapter: each subcommand's JSON is the serialisation of the typed
function it calls (the solve, min-width, Transformer and grokking cases are in test_bracket.py,
test_smallest_width.py, test_transformer_report.py and test_grokking.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fourier_circuits.constructions import construct
from fourier_circuits.constructions.checked import check_construction
from fourier_circuits.constructions.trained import TrainConfig, train
from fourier_circuits.experiments.cli import main
from fourier_circuits.theory import (
    PolyNet,
    gamma_star,
    gamma_star_exact,
    jsonable,
    lattice_width,
    summarise,
    width_bound,
)

#: Wall-clock keys: measured again by each run, so they differ between two runs.
CLOCK = ("seconds", "seconds_to_ratio_099", "seconds_to_test_099")


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    main([*argv, "--json"])
    return json.loads(capsys.readouterr().out)


def _without_clock(data: dict) -> dict:
    return {key: value for key, value in data.items() if key not in CLOCK}


def test_theory_prints_the_closed_forms(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, "theory", "--p", "7", "--k", "3")
    assert data["gamma_star"] == gamma_star(7, 3)
    assert data["gamma_star_exact"] == str(gamma_star_exact(7, 3)) == "1/224"
    assert (data["width_bound"], data["lattice_width"]) == (width_bound(7, 3), lattice_width(7, 3))


@pytest.mark.parametrize("exact", [False, True])
def test_construct_prints_check_constructions_serialisation(
    capsys: pytest.CaptureFixture[str], exact: bool
) -> None:
    data = _json(capsys, "construct", "--p", "5", "--k", "3", *(["--exact"] if exact else []))
    expected = check_construction(5, 3, "paper", exact=exact).as_dict()
    assert _without_clock(data) == _without_clock(expected)
    assert ("exact_margin" in data) is exact


def test_inspect_prints_summarises_serialisation(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = construct(5, 2, "lattice").save(tmp_path / "net.npz")
    data = _json(capsys, "inspect", str(path))
    assert data == {"file": str(path), **summarise(PolyNet.load(path)).as_dict()}


def test_train_prints_the_final_records_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    """train adds the comparison with the analytic network and the run's settings to the final
    record's numbers; every number they share is the record's own."""
    data = _json(capsys, "train", "--p", "7", "--k", "2", "--seed", "1")
    result = train(TrainConfig(p=7, k=2, seed=1))
    final = jsonable(result.final)
    shared = set(data) & set(final) - set(CLOCK)
    assert {"margin_ratio", "frequencies_covered", "max_normalized_power_median"} <= shared
    assert {key: data[key] for key in shared} == {key: final[key] for key in shared}
    assert data["steps"] == result.steps
