"""The convex bracket as a typed function (constructions.convex.bracket): the command line prints
its serialisation, and the orbit network's margin measured without building the network agrees
with the network built and measured by brute force."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fourier_circuits.constructions.convex import column_generation, orbit_network
from fourier_circuits.constructions.convex.bracket import Bracket, bracket, orbit_margin
from fourier_circuits.experiments.cli import main
from fourier_circuits.theory import FourierCircuitsError, gamma_star, margin_report


@pytest.mark.parametrize(("p", "k"), [(5, 2), (7, 2), (5, 3)])
def test_orbit_margin_equals_the_explicit_orbit_network(p: int, k: int) -> None:
    cg = column_generation(p, k, rng=np.random.default_rng(1))
    neurons, lam = cg.support()
    explicit = margin_report(orbit_network(neurons, lam, p, k)).normalized_margin
    assert orbit_margin(neurons, lam, p, k) == pytest.approx(explicit, rel=1e-12)


def test_orbit_margin_of_a_damaged_support_falls_below_gamma_star() -> None:
    """Negative control: without its heaviest neuron the support no longer reaches gamma*."""
    p, k = 7, 2
    neurons, lam = column_generation(p, k, rng=np.random.default_rng(1)).support()
    keep = np.arange(len(lam)) != np.argmax(lam)
    damaged = orbit_margin(neurons[keep], lam[keep], p, k)
    assert damaged < gamma_star(p, k) * (1 - 1e-6)
    assert damaged == pytest.approx(
        margin_report(orbit_network(neurons[keep], lam[keep], p, k)).normalized_margin, rel=1e-12
    )


def test_the_command_line_prints_the_brackets_serialisation(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = bracket(5, 2, seed=3)
    assert isinstance(result, Bracket) and result.holds
    assert result.lower_bound <= result.gamma_star <= result.upper_bound
    assert main(["solve", "--p", "5", "--k", "2", "--seed", "3", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    expected = result.as_dict()
    assert printed.pop("seconds") > 0 and expected.pop("seconds") > 0  # wall time differs
    assert printed == expected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "dense"}, "method='dense' must be one of reduced, full"),
        ({"starts": 0}, "starts=0 must be a positive integer"),
        ({"max_seconds": float("nan")}, "max_seconds=nan must be a positive number"),
        ({"sparsify_network": True, "k": 3, "p": 7}, "at most 1500"),
    ],
)
def test_bad_arguments_are_refused_before_any_solve(kwargs: dict, message: str) -> None:
    args = {"p": 5, "k": 2, **kwargs}
    with pytest.raises(FourierCircuitsError, match=message.replace("(", r"\(")):
        bracket(args.pop("p"), args.pop("k"), **args)
