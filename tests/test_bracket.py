"""The convex bracket as a typed function (constructions.convex.bracket): the command line prints
its serialisation, and the orbit network's margin measured without building the network agrees
with the network built and measured by brute force."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from fourier_circuits.constructions.convex import column_generation, orbit_network
from fourier_circuits.constructions.convex.bracket import Bracket, bracket, orbit_margin
from fourier_circuits.constructions.convex.bracket_even import EvenBracket, bracket_even
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


def test_even_p_the_command_line_prints_the_even_brackets_serialisation(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = bracket_even(4, 2, seed=2)
    assert isinstance(result, EvenBracket) and result.holds
    assert result.lower_bound <= result.gamma_star <= result.upper_bound
    assert result.paper_formula_below_lower_bound  # the paper's formula is not the maximum
    assert main(["solve", "--p", "4", "--k", "2", "--seed", "2", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    expected = result.as_dict()
    assert printed.pop("seconds") > 0 and expected.pop("seconds") > 0
    assert printed == expected


@pytest.mark.parametrize(
    ("p", "k", "message"),
    [
        (5, 2, "p=5 must be an even integer"),
        (4, 10**12, "p^k <= 4096"),  # refused at once, without computing 4^(10^12)
        (2.0, 2, "p=2.0 must be an even integer"),
    ],
)
def test_even_bracket_refuses_what_it_cannot_do(p: object, k: int, message: str) -> None:
    with pytest.raises(FourierCircuitsError, match=re.escape(message)):
        bracket_even(p, k)  # type: ignore[arg-type]
