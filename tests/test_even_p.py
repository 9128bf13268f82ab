"""gamma* for even p (theory.even_p), checked by column generation that is never told the answer
(constructions.convex.even_p), and the generalised lemma checked against the odd-p code paths."""

from __future__ import annotations

import json

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from fourier_circuits.constructions import construct
from fourier_circuits.constructions.convex import symmetric_q_bound
from fourier_circuits.constructions.convex.even_p import optimal_q, orbit_margins, solve_any_p
from fourier_circuits.experiments.cli import main
from fourier_circuits.theory import FourierCircuitsError, PolyNet, gamma_star, margin_report
from fourier_circuits.theory.even_p import (
    brute_force_margin,
    gamma_star_even,
    gamma_star_even_exact,
    lemma_bound,
    optimal_even_q,
    paper_formula,
    validate_even_p,
)

GAP = 1e-6


@pytest.mark.parametrize(("p", "k"), [(2, 2), (4, 2), (6, 2), (4, 3)])
def test_column_generation_brackets_the_even_closed_form(p: int, k: int) -> None:
    """From random neurons, nothing Fourier in the computation: the explicit network's margin
    (lower) and the lemma's bound (upper) meet at gamma*_even; the paper's formula, evaluated at
    even p, lies strictly below what the network attains (it is not the maximum there)."""
    result = solve_any_p(p, k, rng=np.random.default_rng(0))
    g = gamma_star_even(p, k)
    assert result.lower <= g * (1 + 1e-12) and g <= result.upper * (1 + 1e-12)
    assert result.relative_gap <= GAP
    assert paper_formula(p, k) < result.lower * (1 - 1e-3)
    assert result.heuristic >= result.lower * (1 - 1e-9)  # pricing found nothing above the LP


@pytest.mark.parametrize(("p", "k"), [(4, 2), (6, 2), (8, 2), (4, 3), (6, 3), (8, 4)])
def test_the_closed_form_q_is_the_socp_optimum_and_ties_every_class(p: int, k: int) -> None:
    q_star = optimal_even_q(p, k)
    assert q_star.min() > 0 and q_star.sum() == pytest.approx(1, abs=1e-15)
    assert lemma_bound(q_star, p, k) == pytest.approx(gamma_star_even(p, k), rel=1e-12)
    socp = optimal_q(p, k)  # solved without the closed form
    assert lemma_bound(socp, p, k) == pytest.approx(gamma_star_even(p, k), rel=1e-8)
    assert np.abs(socp - q_star).sum() < 1e-6


def test_a_wrong_q_gives_a_larger_bound() -> None:
    """Negative control: the uniform q (optimal for odd p) is not optimal for even p."""
    for p, k in ((4, 2), (6, 3)):
        uniform = np.full(p - 1, 1 / (p - 1))
        assert lemma_bound(uniform, p, k) > gamma_star_even(p, k) * (1 + 1e-3)


@settings(max_examples=30, deadline=None)
@given(
    p=st.sampled_from([3, 5, 7, 9, 11]),
    k=st.integers(2, 5),
    seed=st.integers(0, 2**32 - 1),
)
def test_lemma_bound_is_the_odd_symmetric_q_bound_for_odd_p(p: int, k: int, seed: int) -> None:
    """The generalised lemma reduces to constructions.convex's for odd p (no Nyquist class)."""
    q = np.random.default_rng(seed).dirichlet(np.ones(p - 1))
    assert lemma_bound(q, p, k) == pytest.approx(symmetric_q_bound(q, p, k).value, rel=1e-10)


@pytest.mark.parametrize(("p", "k"), [(5, 2), (7, 3), (5, 4)])
def test_brute_force_margin_agrees_with_the_theory_module(p: int, k: int) -> None:
    net = construct(p, k, "lattice")
    assert brute_force_margin(net.U, net.W) == pytest.approx(
        margin_report(net).normalized_margin, rel=1e-12
    )
    rng = np.random.default_rng(p + k)
    noisy = PolyNet(net.U + 0.1 * rng.normal(size=net.U.shape), net.W)
    assert brute_force_margin(noisy.U, noisy.W) == pytest.approx(
        margin_report(noisy).normalized_margin, rel=1e-12
    )


def test_orbit_margins_reproduce_the_odd_reduced_margin() -> None:
    """G(phi, d) by brute force: the LP over a design's neurons reaches gamma* for odd p too."""
    p, k = 7, 2
    net = construct(p, k)
    neurons = np.concatenate([net.U.reshape(net.m, -1), net.W], axis=1)
    G = orbit_margins(neurons, p, k)
    weights = np.linalg.norm(neurons, axis=1) ** (k + 1)
    margins = (weights / weights.sum()) @ G  # every d earns the same: gamma*
    assert np.allclose(margins, gamma_star(p, k), rtol=1e-12)


def test_exact_form_matches_float() -> None:
    for p in (2, 4, 6, 10):
        for k in (2, 3, 4):
            exact = gamma_star_even_exact(p, k)
            assert float(exact) == pytest.approx(gamma_star_even(p, k), rel=1e-14)
    assert gamma_star_even_exact(4, 3) == sp.Rational(3, 160)
    assert gamma_star_even_exact(6, 3) == sp.Rational(1, 144)


@pytest.mark.parametrize("p", [3, 7, 0, -4, 2.0, True])
def test_validate_even_p_refuses(p: object) -> None:
    with pytest.raises(FourierCircuitsError, match="even integer"):
        validate_even_p(p)


def test_solve_cli_takes_even_p(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["solve", "--p", "4", "--k", "2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["lower_bound"] <= data["gamma_star"] <= data["upper_bound"] * (1 + 1e-12)
    assert data["relative_gap"] <= GAP and data["paper_formula_below_lower_bound"]
    assert data["support_frequencies"] == [1, 2]  # a pair class and the Nyquist class


@pytest.mark.parametrize(
    "argv",
    [
        ["--p", "4", "--k", "2", "--save", "x.npz"],
        ["--p", "4", "--k", "2", "--sparsify"],
        ["--p", "64", "--k", "3"],
        ["--p", "4", "--k", "2", "--starts", "0"],
    ],
)
def test_even_p_bad_input_exits_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    assert main(["solve", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1
