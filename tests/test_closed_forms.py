"""Closed forms (theory.closed_forms): Theorem 4.1 of arXiv 2402.09469, checked against numbers
and routes computed independently of the formula (THEORY.md's table, the special forms for
k = 2, 3, design sizes counted point by point, neuron norms summed entry by entry). That gamma*
is attained and never beaten is checked by brute force in test_construction.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import example, given
from hypothesis import strategies as st
from strategies import seeds

from fourier_circuits.constructions import grid3_design, lattice_design, paper_design
from fourier_circuits.testing import moduli, problems
from fourier_circuits.theory import (
    FourierCircuitsError,
    beta,
    beta_exact,
    gamma_star,
    gamma_star_exact,
    lattice_width,
    width_bound,
)

# float(gamma_star_exact) is correctly rounded from 30 digits; two float64 routes to the same
# real number differ by a few ulp: 1e-14 relative is ample and far below any formula slip.
FLOAT_RTOL = 1e-14

# THEORY.md, "Values to reproduce": (p, k) -> (gamma*, the number of significant digits printed).
THEORY_TABLE = {
    (5, 2): ("0.0304290310", 9),
    (7, 2): ("0.0171448167", 9),
    (11, 2): ("0.0082060994", 8),
    (71, 2): ("4.614e-4", 4),
    (5, 3): ("0.009375", 4),
    (7, 3): ("0.0044642857", 8),
    (5, 4): ("0.0033941125", 8),
    (97, 3): ("2.014e-5", 4),
}


@pytest.mark.parametrize(("p", "k"), sorted(THEORY_TABLE))
def test_gamma_star_reproduces_the_theory_table(p: int, k: int) -> None:
    printed, digits = THEORY_TABLE[(p, k)]
    value = gamma_star(p, k)
    # the same decimal string when rounded to the digits the table prints
    assert f"{value:.{digits - 1}e}" == f"{float(printed):.{digits - 1}e}"


# Exact forms quoted in THEORY.md and README.md, typed in by hand.
@pytest.mark.parametrize(
    ("p", "k", "exact"),
    [
        (5, 3, sp.Rational(3, 320)),
        (7, 3, sp.Rational(1, 224)),
        (97, 3, sp.Rational(1, 49664)),
        (5, 2, sp.sqrt(30) / 180),
        (5, 4, 3 * sp.sqrt(2) / 1250),
    ],
)
def test_gamma_star_exact_known_values(p: int, k: int, exact: sp.Expr) -> None:
    assert gamma_star_exact(p, k) == exact  # sympy's canonical form: structural equality


@given(moduli(max_p=301))
@example(9)
@example(15)
def test_gamma_star_for_k2_is_morwanis_theorem_7(p: int) -> None:
    """k = 2: gamma* = sqrt(2/27) / (sqrt(p) (p-1))  (Morwani et al., Thm 7)."""
    # both sides are positive, so they are equal iff their squares (rationals) are
    assert exact_square(gamma_star_exact(p, 2)) == sp.Rational(2, 27 * p * (p - 1) ** 2)
    morwani = math.sqrt(2 / 27) / (math.sqrt(p) * (p - 1))
    assert gamma_star(p, 2) == pytest.approx(morwani, rel=FLOAT_RTOL)


@given(moduli(max_p=301))
def test_gamma_star_for_k3_is_rational(p: int) -> None:
    """k = 3: gamma* = 3 / (16 p (p-1)), a rational number."""
    assert gamma_star_exact(p, 3) == sp.Rational(3, 16 * p * (p - 1))
    assert gamma_star(p, 3) == pytest.approx(3 / (16 * p * (p - 1)), rel=FLOAT_RTOL)


@given(problems(max_examples=10**12, max_k=9))
@example((107, 3))  # sp.nsimplify once turned this one into a product of 20th roots
def test_gamma_star_exact_is_exact(pk: tuple[int, int]) -> None:
    """gamma*^2 = 4 k!^2 / ((2k+2)^(k+1) (p-1)^2 p^(k-1)) exactly, a rational number."""
    p, k = pk
    exact = gamma_star_exact(p, k)
    assert exact.is_positive
    want = sp.Rational(
        4 * math.factorial(k) ** 2, (2 * k + 2) ** (k + 1) * (p - 1) ** 2 * p ** (k - 1)
    )
    assert exact_square(exact) == want


@given(problems(max_examples=10**12, max_k=9))
def test_gamma_star_float_is_the_exact_value_rounded(pk: tuple[int, int]) -> None:
    p, k = pk
    exact = gamma_star_exact(p, k)
    assert gamma_star(p, k) == float(sp.N(exact, 40))
    # and the formula evaluated in plain floats, a separate route through the arithmetic
    plain = 2 * math.factorial(k) / ((2 * k + 2) ** ((k + 1) / 2) * (p - 1) * p ** ((k - 1) / 2))
    assert gamma_star(p, k) == pytest.approx(plain, rel=FLOAT_RTOL)


@given(problems(max_examples=10**9, max_k=7))
def test_gamma_star_decreases_with_p(pk: tuple[int, int]) -> None:
    p, k = pk
    assert gamma_star(p + 2, k) < gamma_star(p, k)


def exact_square(x: sp.Expr) -> sp.Rational:
    """x^2 as a sympy Rational (raises if sympy cannot evaluate it to one)."""
    square = sp.expand(x**2)
    assert isinstance(square, sp.Rational), f"{x}^2 = {square} is not a rational number"
    return square


# --- widths: counted from the designs, point by point ------------------------------------------


@given(problems(max_examples=10**9, max_k=6))
def test_width_bound_is_the_paper_designs_neuron_count(pk: tuple[int, int]) -> None:
    p, k = pk
    points = list(paper_design(k).points)
    assert len(points) == len(set(points)) == 2 ** (2 * k - 1)  # App. G: 2^(2k-1) per frequency
    assert width_bound(p, k) == len(points) * (p - 1) // 2 == paper_design(k).width(p)
    assert width_bound(p, k) == 4 ** (k - 1) * (p - 1)


@given(problems(max_examples=10**9, max_k=6))
def test_lattice_width_is_the_lattice_designs_neuron_count(pk: tuple[int, int]) -> None:
    p, k = pk
    design = lattice_design(k)
    assert design.size == design.N == 2 * 3 ** (k - 1)
    assert lattice_width(p, k) == design.width(p) == design.size * (p - 1) // 2
    assert lattice_width(p, k) < width_bound(p, k)  # 3^(k-1) < 4^(k-1) for k >= 2
    assert grid3_design(k).size == 3**k


@pytest.mark.parametrize(
    ("p", "k", "bound", "lattice"), [(7, 3, 96, 54), (5, 4, 256, 108), (97, 3, 1536, 864)]
)
def test_widths_quoted_in_theory(p: int, k: int, bound: int, lattice: int) -> None:
    assert (width_bound(p, k), lattice_width(p, k)) == (bound, lattice)


# --- beta: the amplitude of a unit-norm neuron ---------------------------------------------


@given(problems(max_examples=10**6, max_k=6), seeds, st.data())
def test_beta_gives_a_unit_norm_single_frequency_neuron(
    pk: tuple[int, int], seed: int, data: st.DataObject
) -> None:
    """Theorem 4.1 (ii): k+1 cosines of amplitude beta, any phases, any zeta in 1..(p-1)/2,
    have ||theta_i||_2 = 1 (summed entry by entry here)."""
    p, k = pk
    zeta = data.draw(st.integers(1, (p - 1) // 2), label="zeta")
    phases = np.random.default_rng(seed).uniform(0, 2 * np.pi, size=k + 1)
    a = np.arange(p)
    vectors = beta(p, k) * np.cos(phases[:, None] + 2 * np.pi * zeta * a[None, :] / p)
    # p (k+1) squares, each rounded once, summed exactly by fsum: off by at most ~eps
    assert math.fsum((vectors**2).ravel()) == pytest.approx(1.0, rel=FLOAT_RTOL * 100)
    assert exact_square(beta_exact(p, k)) * (k + 1) * sp.Rational(p, 2) == 1


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize("f", [gamma_star, gamma_star_exact, width_bound, lattice_width, beta])
@pytest.mark.parametrize(("p", "k", "match"), [(4, 2, "p=4"), (7, 1, "k=1"), (2, 3, "p=2")])
def test_closed_forms_refuse_outside_the_theory(f: object, p: int, k: int, match: str) -> None:
    with pytest.raises(FourierCircuitsError, match=match):
        f(p, k)  # type: ignore[operator]
