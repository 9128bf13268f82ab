"""Closed forms of Theorem 4.1 (arXiv 2402.09469), exact (sympy) and as floats.

gamma*(p, k) = 2 k! / ( (2k+2)^((k+1)/2) (p-1) p^((k-1)/2) )          Theorem 4.1 (i)
width bound  = 2^(2k-2) (p-1)                                          Theorem 4.1 hypothesis
beta(p, k)   = sqrt( 2 / ((k+1) p) )   amplitude of a unit-norm max-margin neuron, Thm 4.1 (ii)
lattice width = 3^(k-1) (p-1)          the rank-1 lattice design (THEORY.md, "Smaller designs")

Sizes, decided in logarithms before anything is computed (so any k answers at once):
- an exact form is computed while its integers have at most theory.budget.int_digits_limit()
  (4300) digits: log10(2 k!) = (ln 2 + lgamma(k+1)) / ln 10 for the numerator of gamma*, and
  ((k+1)/2) log10(2k+2) + log10(p-1) + ((k-1)/2) log10(p) for its denominator; (2k-2) log10 2 +
  log10(p-1) for the width bound, (k-1) log10 3 + log10(p-1) for the lattice width;
- a float is returned only where it is a normal float64 (log10 in FLOAT64_LOG10_RANGE): gamma* grows
  like (k / (2 e^2 p))^(k/2) and overflows (p = 7: from k ~ 730) or underflows beyond it.
"""

from __future__ import annotations

import math
import sys

import sympy as sp

import fourier_circuits.theory.budget as budget
from fourier_circuits.theory.errors import FourierCircuitsError
from fourier_circuits.theory.task import Task

#: log10 of the smallest and largest normal float64 (2.2e-308, 1.8e308).
FLOAT64_LOG10_RANGE = (math.log10(sys.float_info.min), math.log10(sys.float_info.max))


def paper_formula_ln(p: int, k: int) -> float:
    """ln of the paper's 2 k! / ((2k+2)^((k+1)/2) (p-1) p^((k-1)/2)) (Theorem 4.1 (i)) in floats,
    for any p >= 2 and k >= 1 of any size (lgamma for k!): nothing overflows."""
    return (
        math.log(2)
        + math.lgamma(k + 1)
        - (k + 1) / 2 * math.log(2 * k + 2)
        - math.log(p - 1)
        - (k - 1) / 2 * math.log(p)
    )


def log10_gamma_star(p: int, k: int) -> float:
    """log10 gamma*(p, k) in floats, for any size of p and k."""
    task = Task(p, k)
    return paper_formula_ln(task.p, task.k) / math.log(10)


def require_float64(quantity: str, log10_value: float, *, fix: str) -> None:
    """Refuse a value that is not a normal float64 (its log10 outside FLOAT64_LOG10_RANGE)."""
    low, high = FLOAT64_LOG10_RANGE
    if not low < log10_value < high:
        raise FourierCircuitsError(
            f"{quantity} = {budget.magnitude(log10_value)} is outside the range of float64 "
            f"(normal numbers {sys.float_info.min:.3g} to {sys.float_info.max:.3g}); {fix}"
        )


def _require_exact_gamma(task: Task) -> None:
    """The integers of gamma*'s exact form stay within budget.int_digits_limit() digits."""
    p, k = task.p, task.k
    numerator = (math.log(2) + math.lgamma(k + 1)) / math.log(10)
    denominator = (
        (k + 1) / 2 * math.log10(2 * k + 2) + math.log10(p - 1) + (k - 1) / 2 * math.log10(p)
    )
    fix = "choose a smaller k (or p)"
    budget.require_digits(f"the numerator 2 k! of gamma*(p={p}, k={k})", numerator, fix=fix)
    budget.require_digits(
        f"the denominator (2k+2)^((k+1)/2) (p-1) p^((k-1)/2) of gamma*(p={p}, k={k})",
        denominator,
        fix=fix,
    )


def gamma_star_exact(p: int, k: int) -> sp.Expr:
    """gamma*(p, k) as an exact sympy number (Theorem 4.1 (i); Morwani Thm 7 for k = 2); refused
    when its integers would exceed the digit limit (module docstring)."""
    task = Task(p, k)
    _require_exact_gamma(task)
    P, K = sp.Integer(task.p), sp.Integer(task.k)
    # Integer ** Rational evaluates exactly (to k-th roots of integers); radsimp only clears
    # radicals from the denominator. (sp.nsimplify must not be used: it re-guesses the number
    # from its float value and returned e.g. a product of 20th roots for p = 107, k = 3.)
    return sp.radsimp(
        2 * sp.factorial(K) / ((2 * K + 2) ** ((K + 1) / 2) * (P - 1) * P ** ((K - 1) / 2))
    )


def gamma_star(p: int, k: int) -> float:
    """gamma*(p, k) as a float64 (evaluated from the exact form to 30 digits, then rounded);
    refused where it is not a normal float64 (module docstring), before any exact arithmetic."""
    task = Task(p, k)
    require_float64(
        f"gamma*(p={task.p}, k={task.k})",
        log10_gamma_star(task.p, task.k),
        fix="choose a smaller k (gamma* grows like (k / (2 e^2 p))^(k/2))",
    )
    return float(sp.N(gamma_star_exact(task.p, task.k), 30))


def width_bound(p: int, k: int) -> int:
    """The paper's width 2^(2k-2) (p-1): with m >= this, the max margin is gamma* (Thm 4.1)."""
    task = Task(p, k)
    budget.require_digits(
        f"the width bound 2^(2k-2) (p-1) for p={task.p}, k={task.k}",
        (2 * task.k - 2) * math.log10(2) + math.log10(task.p - 1),
        fix="choose a smaller k",
    )
    return 2 ** (2 * task.k - 2) * (task.p - 1)


def lattice_width(p: int, k: int) -> int:
    """3^(k-1) (p-1): the width of the rank-1 lattice design (2*3^(k-1) neurons per frequency)."""
    task = Task(p, k)
    budget.require_digits(
        f"the lattice width 3^(k-1) (p-1) for p={task.p}, k={task.k}",
        (task.k - 1) * math.log10(3) + math.log10(task.p - 1),
        fix="choose a smaller k",
    )
    return 3 ** (task.k - 1) * (task.p - 1)


def beta_exact(p: int, k: int) -> sp.Expr:
    """beta = sqrt(2 / ((k+1) p)): each of the k+1 cosines of a unit-norm max-margin neuron has
    this amplitude, since ||beta cos(phi + 2 pi zeta a / p)||^2 = beta^2 p / 2 for p odd."""
    task = Task(p, k)
    budget.require_digits(
        f"the denominator (k+1) p of beta for p={task.p}, k={task.k}",
        math.log10(task.k + 1) + math.log10(task.p),
        fix="choose a smaller p",
    )
    return sp.sqrt(sp.Rational(2, (task.k + 1) * task.p))


def beta(p: int, k: int) -> float:
    """beta as a float64 (from the exact form to 30 digits); refused where it underflows."""
    task = Task(p, k)
    require_float64(
        f"beta(p={task.p}, k={task.k})",
        (math.log10(2) - math.log10(task.k + 1) - math.log10(task.p)) / 2,
        fix="choose a smaller p",
    )
    return float(sp.N(beta_exact(task.p, task.k), 30))
