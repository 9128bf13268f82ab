"""gamma* for even p, which the paper leaves open (it assumes p odd): a closed form derived here.

The derivation (docs/even-p.md) follows the paper's max-min duality. For any p, averaging a neuron
over the shifts leaves a margin that depends only on d = y - c (the shift reduction of
constructions.convex), and for a distribution q on d = 1..p-1 the best unit neuron earns

    F(q) = k! / ((k+1)^((k+1)/2) p^((k+1)/2)) * max over frequency classes of  weight * |Q_j|,
    Q_j = 1 - sum_d q(d) e^{2 pi i j d / p},

where a class is a pair {j, -j} (weight alpha = 2^((1-k)/2)) or, for even p only, the Nyquist
frequency j = p/2, its own conjugate (weight 1: a real neuron puts all its power there, none
shared with a partner). For odd p this is the paper's lemma. The maximum margin is min_q F(q); for
even p the minimiser equalises the classes, q*(d) = (M/p)(1 + (1 - alpha)(-1)^d) with
M = p / (p - 2 + alpha), and

    gamma*_even(p, k) = k! alpha / ((k+1)^((k+1)/2) p^((k-1)/2) (p - 2 + alpha)),

the odd closed form with p - 1 replaced by p - 2 + alpha. Checked in this toolkit by column
generation from random neurons, never told the answer (constructions.convex.even_p), for p = 2..8.
Pure numpy and sympy.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import sympy as sp

import fourier_circuits.theory.budget as budget
from fourier_circuits.theory._validation import check_int
from fourier_circuits.theory.closed_forms import paper_formula_ln, require_float64
from fourier_circuits.theory.errors import FourierCircuitsError
from fourier_circuits.theory.network import FloatArray
from fourier_circuits.theory.task import validate_k


def validate_even_p(p: object) -> int:
    """Return p as an int, or raise: p must be an even integer >= 2."""
    p_int = check_int("p", p, rule="an even integer >= 2")
    if p_int < 2 or p_int % 2:
        raise FourierCircuitsError(
            f"p={p!r} must be an even integer >= 2 (this is the even-p case)"
        )
    return p_int


def nyquist_weight_ratio(k: int) -> float:
    """alpha = 2^((1-k)/2): the weight of a conjugate pair of frequencies relative to Nyquist."""
    return float(2.0 ** ((1 - validate_k(k)) / 2))


#: Largest k whose k! converts to a float64 (170! = 7.3e306): the formulas below are evaluated
#: directly up to it (as always), in logarithms (lgamma) beyond.
FLOAT_FACTORIAL_MAX_K = 170


def _float_value(quantity: str, direct: Callable[[], float], log_value: float) -> float:
    """A closed form as a float64: refused outside float64's range (log_value: its natural log,
    from lgamma), else evaluated directly while k! is a float, else exp(log_value)."""
    require_float64(quantity, log_value / math.log(10), fix="choose a smaller k")
    try:
        return direct()
    except OverflowError:  # k! or a power beyond float64 although the value is not
        return math.exp(log_value)


def gamma_star_even(p: int, k: int) -> float:
    """The maximum L_{2,k+1}-normalized margin for even p (module docstring), float64; refused
    where it is not a normal float64 (theory.closed_forms.require_float64)."""
    p, k = validate_even_p(p), validate_k(k)
    alpha = nyquist_weight_ratio(k)
    log_value = (
        math.lgamma(k + 1)
        + (1 - k) / 2 * math.log(2)  # log alpha (alpha itself underflows for huge k)
        - (k + 1) / 2 * math.log(k + 1)
        - (k - 1) / 2 * math.log(p)
        # log(p - 2 + alpha): for p = 2 that is log alpha
        - ((1 - k) / 2 * math.log(2) if p == 2 else math.log(p - 2 + alpha))
    )
    return _float_value(
        f"gamma*_even(p={p}, k={k})",
        lambda: (
            math.factorial(k)
            * alpha
            / ((k + 1) ** ((k + 1) / 2) * p ** ((k - 1) / 2) * (p - 2 + alpha))
        ),
        log_value,
    )


def gamma_star_even_exact(p: int, k: int) -> Any:
    """gamma_star_even as an exact sympy number (rational for odd k); refused when k! or
    (k+1)^((k+1)/2) p^((k-1)/2) would exceed theory.budget.int_digits_limit() digits."""
    p, k = validate_even_p(p), validate_k(k)
    fix = "choose a smaller k"
    budget.require_digits(f"k! for k={k}", math.lgamma(k + 1) / math.log(10), fix=fix)
    budget.require_digits(
        f"(k+1)^((k+1)/2) p^((k-1)/2) for p={p}, k={k}",
        (k + 1) / 2 * math.log10(k + 1) + (k - 1) / 2 * math.log10(p),
        fix=fix,
    )
    alpha = sp.Integer(2) ** sp.Rational(1 - k, 2)
    value = (
        sp.factorial(k)
        * alpha
        / (
            (k + 1) ** sp.Rational(k + 1, 2)
            * sp.Integer(p) ** sp.Rational(k - 1, 2)
            * (p - 2 + alpha)
        )
    )
    return sp.radsimp(sp.simplify(value))


def paper_formula(p: int, k: int) -> float:
    """The paper's closed form 2 k! / ((2k+2)^((k+1)/2) (p-1) p^((k-1)/2)) evaluated at any p >= 2:
    gamma* for odd p, but for even p below the maximum (a network beats it; docs/even-p.md)."""
    k = validate_k(k)
    p = check_int("p", p, min_value=2)
    log_value = paper_formula_ln(p, k)
    return _float_value(
        f"the paper's formula at p={p}, k={k}",
        lambda: (
            2 * math.factorial(k) / ((2 * k + 2) ** ((k + 1) / 2) * (p - 1) * p ** ((k - 1) / 2))
        ),
        log_value,
    )


def optimal_even_q(p: int, k: int) -> FloatArray:
    """q*(d), d = 1..p-1: the dual optimum for even p, which equalises every frequency class."""
    p, k = validate_even_p(p), validate_k(k)
    budget.require_memory(f"q* for p={p}", 3 * 8 * (p - 1))
    alpha = nyquist_weight_ratio(k)
    M = p / (p - 2 + alpha)
    d = np.arange(1, p)
    return np.asarray((M / p) * (1 + (1 - alpha) * (-1.0) ** d), dtype=np.float64)


def class_weights(p: int, k: int) -> FloatArray:
    """The weight of each frequency j = 1..p-1 in F(q): alpha, or 1 at Nyquist (even p)."""
    budget.require_memory(f"the class weights for p={p}", 8 * (p - 1))
    weights = np.full(p - 1, nyquist_weight_ratio(k))
    if p % 2 == 0:
        weights[p // 2 - 1] = 1.0
    return weights


def lemma_bound(q: Any, p: int, k: int) -> float:
    """F(q) for any p >= 2 (module docstring): no network has a larger normalized margin. A rigorous
    upper bound given the lemma of docs/even-p.md, for every distribution q on d = 1..p-1 (it is
    projected onto the simplex first, so a solver's slightly infeasible q stays valid)."""
    k = validate_k(k)
    p = check_int("p", p, min_value=2)
    # the (p-1, p-1) complex matrix e^{2 pi i j d / p}, its exponent and the product
    budget.require_memory(f"lemma_bound at p={p}", 40 * (p - 1) ** 2, fix="choose a smaller p")
    q = np.asarray(q, dtype=np.float64)
    if q.shape != (p - 1,) or not np.all(np.isfinite(q)):
        raise FourierCircuitsError(f"q must be p - 1 = {p - 1} finite numbers, got shape {q.shape}")
    q = np.clip(q, 0.0, None)
    if q.sum() <= 0:
        raise FourierCircuitsError("q must have positive mass")
    q = q / q.sum()
    d = np.arange(1, p)
    j = np.arange(1, p)
    Q = 1 - np.exp(2j * np.pi * np.outer(j, d) / p) @ q
    log_scale = math.lgamma(k + 1) - (k + 1) / 2 * (math.log(k + 1) + math.log(p))
    scale = _float_value(
        f"the lemma's constant k! / ((k+1) p)^((k+1)/2) at p={p}, k={k}",
        lambda: math.factorial(k) / ((k + 1) ** ((k + 1) / 2) * p ** ((k + 1) / 2)),
        log_scale,
    )
    return float(scale * np.max(class_weights(p, k) * np.abs(Q)))


def brute_force_margin(U: Any, W: Any) -> float:
    """The normalized margin of f(a)[c] = sum_i (sum_j U[i, j, a_j])^k W[i, c] over all p^k inputs,
    for any p (theory.margin_report requires odd p): min over a of f(a)[y] - max_{c != y} f(a)[c],
    divided by sum_i ||theta_i||^(k+1). Small p^k only (<= 2^16)."""
    U = np.asarray(U, dtype=np.float64)
    W = np.asarray(W, dtype=np.float64)
    if U.ndim != 3 or W.shape != (U.shape[0], U.shape[2]):
        raise FourierCircuitsError(f"U must be (m, k, p) and W (m, p); got {U.shape}, {W.shape}")
    _, k, p = U.shape
    if budget.power_exceeds(p, k, 2**16):
        raise FourierCircuitsError(
            f"p^k = {budget.magnitude(k * math.log10(max(p, 1)))} inputs: at most {2**16} for "
            "brute_force_margin"
        )
    inputs = np.indices((p,) * k).reshape(k, -1).T
    z = sum(U[:, j, inputs[:, j]] for j in range(k))  # (m, N)
    logits = (z**k).T @ W  # (N, p)
    y = inputs.sum(axis=1) % p
    correct = logits[np.arange(len(y)), y]
    logits[np.arange(len(y)), y] = -np.inf
    margin = float(np.min(correct - logits.max(axis=1)))
    norm = float(np.sum(np.sqrt(np.sum(U**2, axis=(1, 2)) + np.sum(W**2, axis=1)) ** (k + 1)))
    return margin / norm
