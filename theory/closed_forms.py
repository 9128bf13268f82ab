"""Closed forms of Theorem 4.1 (arXiv 2402.09469), exact (sympy) and as floats.

gamma*(p, k) = 2 k! / ( (2k+2)^((k+1)/2) (p-1) p^((k-1)/2) )          Theorem 4.1 (i)
width bound  = 2^(2k-2) (p-1)                                          Theorem 4.1 hypothesis
beta(p, k)   = sqrt( 2 / ((k+1) p) )   amplitude of a unit-norm max-margin neuron, Thm 4.1 (ii)
lattice width = 3^(k-1) (p-1)          the rank-1 lattice design (THEORY.md, "Smaller designs")
"""

from __future__ import annotations

import sympy as sp

from fourier_circuits.theory.task import Task


def gamma_star_exact(p: int, k: int) -> sp.Expr:
    """gamma*(p, k) as an exact sympy number (Theorem 4.1 (i); Morwani Thm 7 for k = 2)."""
    task = Task(p, k)
    P, K = sp.Integer(task.p), sp.Integer(task.k)
    # Integer ** Rational evaluates exactly (to k-th roots of integers); radsimp only clears
    # radicals from the denominator. (sp.nsimplify must not be used: it re-guesses the number
    # from its float value and returned e.g. a product of 20th roots for p = 107, k = 3.)
    return sp.radsimp(
        2 * sp.factorial(K) / ((2 * K + 2) ** ((K + 1) / 2) * (P - 1) * P ** ((K - 1) / 2))
    )


def gamma_star(p: int, k: int) -> float:
    """gamma*(p, k) as a float64 (evaluated from the exact form to 30 digits, then rounded)."""
    return float(sp.N(gamma_star_exact(p, k), 30))


def width_bound(p: int, k: int) -> int:
    """The paper's width 2^(2k-2) (p-1): with m >= this, the max margin is gamma* (Thm 4.1)."""
    task = Task(p, k)
    return 2 ** (2 * task.k - 2) * (task.p - 1)


def lattice_width(p: int, k: int) -> int:
    """3^(k-1) (p-1): the width of the rank-1 lattice design (2*3^(k-1) neurons per frequency)."""
    task = Task(p, k)
    return 3 ** (task.k - 1) * (task.p - 1)


def beta_exact(p: int, k: int) -> sp.Expr:
    """beta = sqrt(2 / ((k+1) p)): each of the k+1 cosines of a unit-norm max-margin neuron has
    this amplitude, since ||beta cos(phi + 2 pi zeta a / p)||^2 = beta^2 p / 2 for p odd."""
    task = Task(p, k)
    return sp.sqrt(sp.Rational(2, (task.k + 1) * task.p))


def beta(p: int, k: int) -> float:
    return float(sp.N(beta_exact(p, k), 30))
