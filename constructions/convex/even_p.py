"""The maximum margin for any p, even p included, by column generation that is never told gamma*.

The paper's closed form assumes p odd; theory.even_p derives one for even p. This module checks it
the way constructions.convex checks the odd case, with nothing Fourier in the computation: the
shift-reduced master LP (one row per d = y - c, valid for every p) over neurons priced from random
starts, where each neuron's orbit-averaged margin G(phi, d) = E_a[z(a)^k (w(y) - w(y - d))] is
computed by brute force over all p^k inputs. The lower bound is the margin of the explicit orbit
network recomputed from its weights (theory.even_p.brute_force_margin); the upper bound is
theory.even_p.lemma_bound at the LP's dual q and at the q that minimises it (cvxpy SOCP), both
rigorous given the lemma; the best pricing value is reported as heuristic. Small p^k only.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import cvxpy as cp
import numpy as np
from scipy.optimize import minimize

from fourier_circuits.constructions.convex.lp import generate_columns, orbit_arrays
from fourier_circuits.constructions.convex.pricing import PricingResult, check_starts
from fourier_circuits.constructions.convex.solvers import SOCP_SOLVERS, solve
from fourier_circuits.theory import FloatArray, FourierCircuitsError, validate_k
from fourier_circuits.theory._validation import check_int
from fourier_circuits.theory.even_p import brute_force_margin, class_weights, lemma_bound

#: Largest p^k this brute-force route takes (every pricing step evaluates all p^k inputs).
MAX_EXAMPLES = 4096


def _inputs(p: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    inputs = np.indices((p,) * k).reshape(k, -1).T
    return inputs, inputs.sum(axis=1) % p


def orbit_margins(neurons: FloatArray, p: int, k: int) -> FloatArray:
    """G(phi_i, d) for unit neurons (n, (k+1) p) and d = 1..p-1, by brute force: (n, p-1)."""
    V = np.asarray(neurons, dtype=np.float64).reshape(-1, k + 1, p)
    V = V / np.linalg.norm(V.reshape(len(V), -1), axis=1)[:, None, None]
    inputs, y = _inputs(p, k)
    zk = sum(V[:, j, inputs[:, j]] for j in range(k)) ** k  # (n, N)
    W = V[:, k, :]
    return np.stack([(zk * (W[:, y] - W[:, (y - d) % p])).mean(axis=1) for d in range(1, p)], 1)


def _objective(x: FloatArray, q: FloatArray, p: int, k: int, inputs: np.ndarray, y: np.ndarray):
    """-sum_d q(d) G(x / ||x||, d) and its gradient in x (G is (k+1)-homogeneous)."""
    V = x.reshape(k + 1, p)
    z = sum(V[j, inputs[:, j]] for j in range(k))  # (N,)
    w = V[k]
    qfull = np.concatenate([[0.0], q])  # q(0) = 0
    # S(a) = w(y) - sum_d q(d) w(y - d): the margin weight of input a
    conv = np.array([qfull @ w[(c - np.arange(p)) % p] for c in range(p)])
    S = w[y] - conv[y]
    n = len(y)
    value = float(np.mean(z**k * S))
    grad = np.empty_like(V)
    for j in range(k):
        grad[j] = np.bincount(inputs[:, j], weights=k * z ** (k - 1) * S, minlength=p) / n
    Z = np.bincount(y, weights=z**k, minlength=p) / n  # mean of z^k over inputs with label c
    # d/dw(c) of sum_a z^k (w(y) - sum_d q(d) w(y - d)) / n
    grad[k] = Z - np.array([Z @ qfull[(np.arange(p) - c) % p] for c in range(p)])
    norm2 = float(x @ x)
    g = grad.ravel() / norm2 ** ((k + 1) / 2) - (k + 1) * value * x / norm2 ** ((k + 3) / 2)
    return -value / norm2 ** ((k + 1) / 2), -g


def price(
    q: FloatArray, p: int, k: int, *, rng: np.random.Generator, starts: int = 10
) -> PricingResult:
    """The best unit neuron for the dual q found from `starts` random starts (L-BFGS-B), as a
    PricingResult of one neuron. Heuristic: a local method, never reported as a bound."""
    inputs, y = _inputs(p, k)
    best, best_x = -math.inf, np.zeros((k + 1) * p)
    for _ in range(starts):
        result = minimize(
            _objective,
            rng.normal(size=(k + 1) * p),
            args=(q, p, k, inputs, y),
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": 3000, "ftol": 1e-15, "gtol": 1e-12},
        )
        if -result.fun > best:
            best, best_x = -float(result.fun), result.x / np.linalg.norm(result.x)
    return PricingResult(neurons=best_x[None], values=np.array([best]))


def optimal_q(p: int, k: int) -> FloatArray:
    """The q minimising lemma_bound (an SOCP over the simplex, not told the closed form's q*)."""
    q = cp.Variable(p - 1, nonneg=True)
    d = np.arange(1, p)
    j = np.arange(1, p)
    phase = 2 * np.pi * np.outer(j, d) / p
    re, im = 1 - np.cos(phase) @ q, -(np.sin(phase) @ q)
    s = cp.Variable()
    w = class_weights(p, k)
    cones = [cp.norm(cp.hstack([re[i], im[i]])) * w[i] <= s for i in range(p - 1)]
    problem = cp.Problem(cp.Minimize(s), [*cones, cp.sum(q) == 1])
    solve(problem, SOCP_SOLVERS, what="even-p optimal q")
    value = np.clip(np.asarray(q.value, dtype=np.float64), 0.0, None)
    return value / value.sum()


@dataclass(frozen=True)
class EvenSolve:
    """The bracket for one (p, k): lower (the explicit network's brute-force margin), upper_lp and
    upper_opt (lemma_bound at the LP's dual q and at optimal_q), heuristic (best pricing value),
    the support neurons (s, (k+1) p) and their shares, the dual q, iterations, convergence."""

    p: int
    k: int
    lower: float
    upper_lp: float
    upper_opt: float
    heuristic: float
    neurons: FloatArray
    lam: FloatArray
    q: FloatArray
    q_opt: FloatArray
    iterations: int
    converged: bool
    seconds: float

    @property
    def upper(self) -> float:
        return min(self.upper_lp, self.upper_opt)

    @property
    def relative_gap(self) -> float:
        return (self.upper - self.lower) / self.upper


def solve_any_p(
    p: int,
    k: int,
    *,
    rng: np.random.Generator,
    starts: int = 10,
    max_iterations: int = 200,
) -> EvenSolve:
    """Column generation from 3 random neurons until pricing finds nothing better than the
    master's t (to PRICE_RTOL) or t stops rising, then the bracket. Any p >= 2; p^k <=
    MAX_EXAMPLES."""
    k = validate_k(k)
    p = check_int("p", p, min_value=2)
    if k > MAX_EXAMPLES.bit_length() or p**k > MAX_EXAMPLES:  # 2^k > MAX: p**k not computed
        raise FourierCircuitsError(
            f"p^k inputs at p={p}, k={k}: this brute-force route takes at most "
            f"{MAX_EXAMPLES} (every pricing step evaluates all of them)"
        )
    starts = check_starts(starts)
    max_iterations = check_int("max_iterations", max_iterations, min_value=1, max_value=10**5)
    if not isinstance(rng, np.random.Generator):
        raise FourierCircuitsError(
            f"rng={rng!r} must be a numpy.random.Generator (e.g. numpy.random.default_rng(0))"
        )
    start = time.perf_counter()
    neurons = rng.normal(size=(3, (k + 1) * p))
    neurons /= np.linalg.norm(neurons, axis=1, keepdims=True)
    run = generate_columns(
        neurons,
        p,
        k,
        method="brute-force",
        rows_of=orbit_margins,
        pricer=price,
        rng=rng,
        starts=starts,
        max_iterations=max_iterations,
    )
    neurons, lam, q = run.neurons, run.master.lam, run.master.q
    keep = lam > 1e-12 * lam.max()
    support, shares = neurons[keep], lam[keep] / lam[keep].sum()
    U, W = orbit_arrays(support, shares, p, k)
    q_opt = optimal_q(p, k)
    return EvenSolve(
        p=p,
        k=k,
        lower=brute_force_margin(U, W),
        upper_lp=lemma_bound(q, p, k),
        upper_opt=lemma_bound(q_opt, p, k),
        heuristic=run.best_price,
        neurons=support,
        lam=shares,
        q=q,
        q_opt=q_opt,
        iterations=run.iterations,
        converged=run.converged,
        seconds=time.perf_counter() - start,
    )
