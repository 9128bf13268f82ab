"""The single-neuron problem: Lemmas F.5-F.8 of arXiv 2402.09469 v3 (THEORY.md, proof step 1).

One neuron u_1, ..., u_k: (k, p), w: (p,) has logits f[c] = (sum_j u_j(a_j))^k w(c). Under uniform
q on D_p and uniform tau its class-weighted objective is

    J(u, w) = E_a[ f[y] - (1/(p-1)) sum_{c != y} f[c] ]
            = (p/(p-1)) (eta(0) - E_d eta(d)),   eta(d) = E_a[ (sum_j u_j(a_j))^k w(sum a - d) ]
            = (k! / ((p-1) p^k)) sum_{j != 0} w^(-j) prod_i u_i^(j)                  (Lemma F.7)

with the paper's DFT u^(j) = sum_a u(a) exp(-2 pi i j a / p) (numpy.fft.fft). Convention: the
output weight enters at -j, i.e. conjugated (w^(-j) = conj(w^(j)) for real w), the inputs at +j.
Derivation: write w(x) = (1/p) sum_l w^(l) e^{2 pi i l x / p}; then
E_a[prod_i u_i(a_i) w(sum a - d)] = p^(-k-1) sum_l w^(l) e^{-2 pi i l d / p} prod_i u_i^(-l), and
l -> -j gives w^(-j) prod_i u_i^(j) e^{2 pi i j d / p}; E_d removes j = 0. Every other multinomial
term of (sum_j u_j)^k misses some a_i, sums w over a full period and does not depend on d.

For a cosine neuron of frequency zeta, amplitude A and phases phi_1..phi_k, phi_w this is
2 k! / ((p-1) p^k) (A p / 2)^(k+1) cos(phi_1 + ... + phi_k - phi_w), largest at the phase-sum
rule; at unit norm A = beta = sqrt(2 / ((k+1) p)) and J = gamma* (Theorem 4.1 (i)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import sympy as sp

import fourier_circuits.theory.budget as budget
from fourier_circuits.theory._validation import FloatArray, check_array, check_int
from fourier_circuits.theory.closed_forms import beta, beta_exact
from fourier_circuits.theory.cyclotomic import (
    INT64_SAFE,
    conjugate,
    cyclic_product,
    exponent_histogram,
    reduction_matrix,
)
from fourier_circuits.theory.errors import FourierCircuitsError
from fourier_circuits.theory.network import PolyNet
from fourier_circuits.theory.task import Task, require_array_fits, require_enumerable


def _neuron(u: Any, w: Any) -> tuple[FloatArray, FloatArray, Task]:
    """Validate one neuron: u (k, p) and w (p,) real and finite, k >= 2, p odd >= 3."""
    axes = " (u: (k, p) input weights, w: (p,) output weights)"
    U = check_array("u", u, ndim=2, axes=axes)
    W = check_array("w", w, ndim=1, axes=axes)
    task = Task(U.shape[1], U.shape[0])  # validates p (odd >= 3) and k (>= 2)
    if W.shape != (task.p,):
        raise FourierCircuitsError(
            f"w has shape {W.shape}; with u of shape (k, p) = {U.shape} it must be ({task.p},)"
        )
    return U, W, task


def _hidden_grid(U: FloatArray, task: Task) -> FloatArray:
    """z(a) = sum_j u_j(a_j) on all of Z_p^k as a (p,)*k array (axis j is a_{j+1})."""
    require_enumerable(task)
    require_array_fits(task.n_examples, bytes_per_value=8, what="the single-neuron grid over D_p")
    z = np.zeros((task.p,) * task.k)
    for j in range(task.k):
        shape = [1] * task.k
        shape[j] = task.p
        z = z + U[j].reshape(shape)
    return z


def _label_grid(task: Task) -> Any:
    """y(a) = (a_1 + ... + a_k) mod p on the same (p,)*k grid."""
    axes = np.indices((task.p,) * task.k, sparse=True)
    return sum(axes) % task.p


def single_neuron_eta(u: Any, w: Any) -> FloatArray:
    """eta(d) = E_a[(sum_j u_j(a_j))^k w(sum a - d)] for d = 0..p-1, by brute force over D_p.

    u: (k, p), w: (p,) -> (p,). Lemmas F.5-F.8 of arXiv 2402.09469 v3 (THEORY.md, proof step 1).
    """
    U, W, task = _neuron(u, w)
    zk = _hidden_grid(U, task) ** task.k
    y = _label_grid(task)
    return np.array([np.mean(zk * W[(y - d) % task.p]) for d in range(task.p)])


def single_neuron_objective(u: Any, w: Any) -> float:
    """J(u, w) = E_a[f[y] - (1/(p-1)) sum_{c != y} f[c]] for the single neuron, uniform q and tau,
    by brute force over D_p (the definition, Def 3.6 of arXiv 2402.09469).

    f[c] = z(a)^k w(c), so the bracket is z(a)^k (p w(y) - sum_c w(c)) / (p-1).
    """
    U, W, task = _neuron(u, w)
    zk = _hidden_grid(U, task) ** task.k
    p = task.p
    # f[y] - (1/(p-1)) (sum_c f[c] - f[y]) = z^k (p w(y) - sum_c w(c)) / (p-1)
    return float(np.mean(zk * (p * W[_label_grid(task)] - W.sum())) / (p - 1))


def _fourier_constant(p: int, k: int) -> float:
    return math.factorial(k) / ((p - 1) * float(p) ** k)


def single_neuron_objective_fourier(u: Any, w: Any) -> float:
    """Lemma F.7 (v3): J = (k! / ((p-1) p^k)) sum_{j != 0} w^(-j) prod_i u_i^(j), real.

    The DFT is numpy.fft.fft (u^(j) = sum_a u(a) e^{-2 pi i j a / p}); w^(-j) = conj(w^(j)).
    Costs O(k p log p), so it works for any p.
    """
    U, W, task = _neuron(u, w)
    u_hat = np.fft.fft(U, axis=-1)  # (k, p)
    w_hat = np.fft.fft(W)  # (p,)
    # w^(-j) = conj(w^(j)) for real w; the j and -j terms are conjugate, so the sum is real
    terms = np.conj(w_hat[1:]) * np.prod(u_hat[:, 1:], axis=0)
    return _fourier_constant(task.p, task.k) * float(np.real(terms.sum()))


def neuron_objectives(net: PolyNet) -> FloatArray:
    """J of every neuron of a network by Lemma F.7 (v3), shape (m,).

    The network's mean class-weighted margin under uniform q and tau is linear in f, hence the sum
    of these (Morwani Lemma 5 = v3 Lemma E.1 combines neurons this way); for a network of norm 1
    whose neurons all maximise J it is gamma*.
    """
    k = net.k
    # the complex DFTs of U and W (16 bytes a value) and the product's temporaries
    budget.require_memory(
        f"the Fourier objectives of the network (m, k, p) = ({net.m}, {k}, {net.p})",
        48 * net.m * (k + 1) * net.p,
    )
    u_hat = np.fft.fft(net.U, axis=-1)[:, :, 1:]  # (m, k, p-1), j = 1..p-1
    w_hat = np.fft.fft(net.W, axis=-1)[:, 1:]  # (m, p-1)
    terms = np.conj(w_hat) * np.prod(u_hat, axis=1)  # w^(-j) prod_i u_i^(j)
    return _fourier_constant(net.p, k) * np.real(terms.sum(axis=1))


def optimal_neuron(
    p: int, k: int, zeta: int, phases: npt.ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """The unit-norm maximiser of J (Lemmas F.5-F.8 of v3; Theorem 4.1 (ii) of arXiv 2402.09469):

        u_j(a) = beta cos(phi_j + 2 pi zeta a / p),
        w(c)   = beta cos(phi_1 + ... + phi_k + 2 pi zeta c / p),

    beta = sqrt(2 / ((k+1) p)), phases = (phi_1, ..., phi_k), zeta in 1..(p-1)/2.
    Returns (u: (k, p), w: (p,)); the neuron norm is 1 because sum_a cos^2(. + 2 pi zeta a/p) = p/2.
    """
    task = Task(p, k)
    zeta_int = _validate_zeta(zeta, task)
    try:
        phi = np.asarray(phases, dtype=np.float64)
    except (TypeError, ValueError):
        phi = np.full(0, np.nan)  # reported below
    if phi.shape != (task.k,) or not np.all(np.isfinite(phi)):
        raise FourierCircuitsError(
            f"phases={phases!r} must be {task.k} finite angles (phi_1, ..., phi_k), one per summand"
        )
    angle = 2 * np.pi * zeta_int * np.arange(task.p) / task.p  # (p,)
    b = beta(task.p, task.k)
    u = b * np.cos(phi[:, None] + angle[None, :])
    w = b * np.cos(phi.sum() + angle)  # the phase-sum rule phi_w = phi_1 + ... + phi_k
    return u, w


def _validate_zeta(zeta: object, task: Task) -> int:
    h = (task.p - 1) // 2
    return check_int(
        "zeta",
        zeta,
        min_value=1,
        max_value=h,
        rule=f"an integer frequency in 1..(p-1)/2 = 1..{h} (p={task.p})",
    )


def single_neuron_max_exact(p: int, k: int, *, zeta: int = 1) -> sp.Expr:
    """J(optimal_neuron(p, k, zeta, 0)) exactly, from the Fourier form of Lemma F.7 (v3).

    Exact arithmetic in Z[x]/(x^p - 1) evaluated at x = omega = e^{2 pi i / p}
    (theory.cyclotomic): c(a) = cos(2 pi zeta a / p) = (omega^(zeta a) + omega^(-zeta a)) / 2 has
    the DFT c^(j) = sum_a c(a) omega^(-j a), so 2 c^(j) = sum_a x^((zeta - j) a) + x^((-zeta - j) a)
    has integer coefficients. 2^(k+1) S = sum_{j != 0} conj(2 c^(j)) (2 c^(j))^k is reduced modulo
    Phi_p to its canonical coordinates, which are (2^(k+1) S, 0, ..., 0): S is rational. Then

        J = (k! / ((p-1) p^k)) beta^(k+1) S,   beta = beta_exact(p, k) = sqrt(2 / ((k+1) p)),

    a rational times a square root, whose denominator sp.radsimp rationalises (as in
    theory.closed_forms; sp.nsimplify, which re-guesses the number from its float value, returned
    a wrong product of 20th roots here for p = 107, k = 3).
    """
    task = Task(p, k)
    zeta_int = _validate_zeta(zeta, task)
    p, k = task.p, task.k
    a = np.arange(p, dtype=np.int64)
    j = np.arange(1, p, dtype=np.int64)
    # row j - 1: the exponents of 2 c^(j), from omega^(+-zeta a) omega^(-j a), a = 0..p-1
    exponents = np.concatenate([np.outer(zeta_int - j, a), np.outer(-zeta_int - j, a)], axis=1)
    c2 = exponent_histogram(p - 1, exponents, p)  # (p-1, p): 2 c^(j), j = 1..p-1
    R = reduction_matrix(p)  # (p, phi(p))
    # each factor has non-negative coefficients summing to 2p, so a product of k+1 of them sums
    # to (2p)^(k+1); p-1 of those, reduced by R, bound every coordinate a priori
    bound = (p - 1) * (2 * p) ** (k + 1) * int(np.abs(R).max())
    dtype: Any = np.int64 if bound < INT64_SAFE else object  # object: Python integers
    _require_exact_work(p, k, python_integers=dtype is object)
    total = np.zeros(p, dtype=dtype)
    for row in c2.astype(dtype):
        term = conjugate(row)  # complex conjugation sends omega^n to omega^(-n)
        for _ in range(k):
            term = cyclic_product(term, row)
        total = total + term
    coords = total @ R.astype(dtype)  # (phi(p),) canonical coordinates of 2^(k+1) S
    # S is real and rational (the imaginary parts of +-j cancel; sums of omega^(n a) over a
    # vanish unless n = 0 mod p), so only the constant coordinate survives
    assert not any(int(c) for c in coords[1:]), coords
    S = sp.Rational(int(coords[0]), 2 ** (k + 1))
    constant = sp.factorial(k) / ((sp.Integer(p) - 1) * sp.Integer(p) ** k)
    return sp.radsimp(constant * beta_exact(p, k) ** (k + 1) * S)


def _require_exact_work(p: int, k: int, *, python_integers: bool) -> None:
    """Refuse single_neuron_max_exact where it would not fit or finish (theory.budget): the
    reduction matrix (p, phi(p)) is built in about p^2 Python steps; each of the p - 1 rows takes k
    cyclic products through a (p, p) circulant: 2 k (p-1) p^2 integer operations, Python-level
    steps when the coefficients need Python integers; memory: three (p, p) int64 blocks (five
    pointers' worth for Python integers)."""
    products = 2 * k * (p - 1) * p * p
    steps = p * p + (products if python_integers else 0)
    quantity = f"single_neuron_max_exact(p={p}, k={k})"
    budget.require_steps(quantity, steps, fix="choose a smaller p")
    budget.require(
        quantity,
        nbytes=(40 if python_integers else 24) * p * p,
        flop=0 if python_integers else products,
        fix="choose a smaller p",
    )


#: Most random starts of maximise_single_neuron (each is an L-BFGS run of up to 10,000 steps).
MAX_STARTS = 1000


@dataclass(frozen=True)
class SingleNeuronOptimum:
    """Best of several local maximisations of J over the unit sphere ||u||^2 + ||w||^2 = 1.

    u: (k, p), w: (p,) the best neuron (unit norm); value: J(u, w); values: (starts,) the value
    reached from each random start; converged: (starts,) whether scipy reported success.
    """

    u: FloatArray
    w: FloatArray
    value: float
    values: FloatArray
    converged: npt.NDArray[np.bool_]


def _fourier_value_and_grad(
    x: FloatArray, p: int, k: int, const: float
) -> tuple[float, FloatArray]:
    """J and its gradient in the flat coordinates x = (u_1, ..., u_k, w) of length (k+1) p."""
    V = x.reshape(k + 1, p)
    hat = np.fft.fft(V, axis=-1)  # (k+1, p)
    hat[:, 0] = 0.0  # j = 0 is excluded from the sum
    u_hat, w_conj = hat[:k], np.conj(hat[k])
    prod_all = np.prod(u_hat, axis=0)  # (p,)
    value = const * float(np.real(np.sum(w_conj * prod_all)))
    grad = np.empty_like(V)
    for i in range(k):
        others = np.prod(np.delete(u_hat, i, axis=0), axis=0)
        # d u_i^(j) / d u_i(a) = e^{-2 pi i j a / p}: the gradient is the forward DFT of w^(-j) prod
        grad[i] = const * np.real(np.fft.fft(w_conj * others))
    # d conj(w^(j)) / d w(a) = e^{+2 pi i j a / p}: p times the inverse DFT
    grad[k] = const * p * np.real(np.fft.ifft(prod_all))
    return value, grad.reshape(-1)


def maximise_single_neuron(
    p: int, k: int, *, rng: np.random.Generator, starts: int = 8
) -> SingleNeuronOptimum:
    """Maximise J over the unit sphere numerically: an independent route to gamma* (Lemmas F.5-F.8).

    J is (k+1)-homogeneous, so maximising J(x / ||x||) = J(x) / ||x||^(k+1) without constraints is
    the same problem; scipy's L-BFGS-B minimises its negative from `starts` Gaussian starts drawn
    from `rng`. The objective is the Fourier form (single_neuron_objective_fourier), O(k p log p)
    per call.
    """
    from scipy.optimize import minimize  # here: scipy.optimize costs 0.3 s to import

    task = Task(p, k)
    starts = check_int("starts", starts, min_value=1, max_value=MAX_STARTS)
    if not isinstance(rng, np.random.Generator):
        raise FourierCircuitsError(
            f"rng={rng!r} must be a numpy.random.Generator (e.g. numpy.random.default_rng(0))"
        )
    p, k = task.p, task.k
    # per objective: 2k + 1 FFTs of length p (~5 p log2 p flop each); L-BFGS-B: up to 10,000
    # iterations of about 1.5 evaluations; memory: its history of 10 pairs of (k+1) p vectors and
    # the complex spectra
    budget.require(
        f"maximise_single_neuron(p={p}, k={k}, starts={starts})",
        nbytes=8 * 40 * (k + 1) * p,
        flop=starts * 15_000 * (2 * k + 1) * 5 * p * math.log2(p),
        fix="choose a smaller p or fewer starts",
    )
    const = _fourier_constant(p, k)

    def negative(x: FloatArray) -> tuple[float, FloatArray]:
        r2 = float(x @ x)
        r = math.sqrt(r2)
        value, grad = _fourier_value_and_grad(x, p, k, const)
        scale = r ** (k + 1)
        # d/dx [J(x) / |x|^(k+1)] = grad J / |x|^(k+1) - (k+1) J x / |x|^(k+3)
        g = grad / scale - (k + 1) * value * x / (scale * r2)
        return -value / scale, -g

    best: tuple[float, FloatArray] | None = None
    values = np.empty(starts)
    converged = np.empty(starts, dtype=np.bool_)
    for s in range(starts):
        x0 = rng.standard_normal((k + 1) * p)
        res = minimize(
            negative,
            x0 / np.linalg.norm(x0),
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": 10_000, "ftol": 1e-15, "gtol": 1e-13},
        )
        x = res.x / np.linalg.norm(res.x)
        values[s] = -float(res.fun)
        converged[s] = bool(res.success)
        if best is None or values[s] > best[0]:
            best = (values[s], x)
    assert best is not None
    x = best[1].reshape(k + 1, p)
    return SingleNeuronOptimum(
        u=x[:k].copy(),
        w=x[k].copy(),
        value=float(best[0]),
        values=values,
        converged=converged,
    )
