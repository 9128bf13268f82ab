"""Margin rows of one unit neuron and the pricing problem of the column generation.

A neuron phi = (u_1, ..., u_k, w): u (k, p), w (p,) of unit norm ||u||^2 + ||w||^2 = 1 has, on the
pair (a, c) with c != y = a_1 + ... + a_k, the margin g(phi; a, c) = z(a)^k (w(y) - w(c)),
z(a) = sum_j u_j(a_j) (Def 3.2 of arXiv 2402.09469 for a one-neuron network).

Shift reduction. The shift t in Z_p^k maps phi to u_j(. + t_j), w(. + t_1 + ... + t_k) and the pair
(a, c) to (a - t, c - sum t); averaging over all p^k shifts gives a margin that depends only on
d = y - c in 1..p-1:

    G(phi, d) = eta(0) - eta(d),   eta(d) = E_a[z(a)^k w(y(a) - d)]
              = (k! / p^(k+1)) sum_{j != 0} A_j (1 - e^{2 pi i j d / p}),
    A_j = conj(w^(j)) prod_i u_i^(j)

(the Fourier form, proved in theory.single_neuron: every multinomial term but k! prod u_i is
constant in d)

with the DFT of numpy.fft.fft. The multiplier of a distribution q over d is then
Q_j = sum_d q(d) (1 - e^{2 pi i j d / p}), and the pricing value is
sum_d q(d) G(phi, d) = (k! / p^(k+1)) Re sum_{j != 0} A_j Q_j.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

import fourier_circuits.theory.budget as budget
from fourier_circuits.theory import (
    FloatArray,
    FourierCircuitsError,
    Task,
    all_inputs,
    check_int,
    labels,
)

ComplexArray = npt.NDArray[np.complex128]

#: L-BFGS options: a coarse pass from every start, then a tight polish of the best few
#: (objective values are O(1) in the pricing's units; 1e-12 gradients give ~1e-12 values).
COARSE: dict[str, float] = {"maxiter": 2000, "ftol": 1e-10, "gtol": 1e-6}
FINE: dict[str, float] = {"maxiter": 10_000, "ftol": 1e-16, "gtol": 1e-12}
#: One-pass options of the unreduced pricing (objective not rescaled; values ~1e-2 at p <= 5).
TIGHT: dict[str, float] = {"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-12}


#: Most random starts of a pricing step (each is an L-BFGS-B run of up to 12,000 iterations on
#: (k+1) p variables, every column-generation iteration).
MAX_STARTS = 1000


def check_starts(starts: object) -> int:
    """starts as an int in 1..MAX_STARTS, or a FourierCircuitsError naming it."""
    return check_int(
        "starts",
        starts,
        min_value=1,
        max_value=MAX_STARTS,
        rule=f"a positive integer at most {MAX_STARTS}",
    )


def _unit(x: FloatArray) -> FloatArray:
    return x / np.linalg.norm(x)


def random_neurons(p: int, k: int, n: int, *, rng: np.random.Generator) -> FloatArray:
    """n Gaussian unit neurons, flat: (n, (k+1) p) in the order (u_1, ..., u_k, w)."""
    task = Task(p, k)
    n = check_int("n", n, min_value=0)
    budget.require_memory(
        f"{n} random neurons of p={task.p}, k={task.k}", 2 * 8 * n * (task.k + 1) * task.p
    )
    x = rng.standard_normal((n, (task.k + 1) * task.p))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def reduced_rows(neurons: FloatArray, p: int, k: int) -> FloatArray:
    """G(phi, d) for d = 1..p-1 of each flat unit neuron: (n, (k+1) p) -> (n, p-1).

    G(phi, d) = (k! / p^(k+1)) Re sum_{j != 0} A_j (1 - e^{2 pi i j d / p}) (module docstring).
    """
    V = np.asarray(neurons, dtype=np.float64).reshape(-1, k + 1, p)
    hat = np.fft.fft(V, axis=-1)  # (n, k+1, p)
    A = np.conj(hat[:, k]) * np.prod(hat[:, :k], axis=1)  # (n, p)
    A[:, 0] = 0.0
    # sum_j A_j e^{2 pi i j d / p} = p * ifft(A)[d]
    eta = np.real(A.sum(axis=1, keepdims=True) - p * np.fft.ifft(A, axis=-1))
    return math.factorial(k) / float(p) ** (k + 1) * eta[:, 1:]


def full_pairs(p: int, k: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """All pairs (a, c) with c != y(a): inputs (N, k) and wrong labels (N,), N = p^k (p-1)."""
    a = all_inputs(Task(p, k))
    y = labels(a, p)
    rep = np.repeat(np.arange(a.shape[0]), p - 1)
    d = np.tile(np.arange(1, p), a.shape[0])
    return a[rep], (y[rep] - d) % p


def full_rows(neurons: FloatArray, p: int, k: int) -> FloatArray:
    """g(phi; a, c) = z(a)^k (w(y) - w(c)) on every pair of full_pairs: (n, (k+1) p) -> (n, N)."""
    V = np.asarray(neurons, dtype=np.float64).reshape(-1, k + 1, p)
    a, c = full_pairs(p, k)
    y = labels(a, p)
    z = sum(V[:, j, a[:, j]] for j in range(k))  # (n, N)
    return np.asarray(z**k * (V[:, k, y] - V[:, k, c]))


def symmetric_multiplier(q: FloatArray, p: int) -> ComplexArray:
    """Q_j = sum_d q(d) (1 - e^{2 pi i j d / p}) for j = 0..p-1, q: (p-1,) over d = 1..p-1."""
    qd = np.concatenate([[0.0], np.asarray(q, dtype=np.float64)])  # (p,) indexed by d
    return np.asarray(qd.sum() - p * np.fft.ifft(qd))


@dataclass(frozen=True)
class PricingResult:
    """Local maxima of sum_d q(d) G(phi, d) over unit neurons from several random starts.

    neurons: (starts, (k+1) p) the local maximisers (unit); values: (starts,) their values.
    Heuristic: a local optimiser gives no bound.
    """

    neurons: FloatArray
    values: FloatArray

    @property
    def best(self) -> float:
        return float(self.values.max())


def price(
    q: FloatArray, p: int, k: int, *, rng: np.random.Generator, starts: int = 10
) -> PricingResult:
    """Multi-start L-BFGS maximisation of the reduced pricing objective over the unit sphere.

    The objective V(x) = (k! / p^(k+1)) Re sum_j conj(w^(j)) Q_j prod_i u_i^(j) is
    (k+1)-homogeneous, so V(x) / ||x||^(k+1) is maximised without constraints.
    """
    Q = symmetric_multiplier(q, p)
    Q[0] = 0.0
    # the objective in units of 2 k! / ((2k+2)^((k+1)/2) p^((k+1)/2)) (the lemma's constant, so
    # values are O(1) and L-BFGS's absolute tolerances mean the same for every p and k)
    unit = 2 * math.factorial(k) / ((2 * k + 2) ** ((k + 1) / 2) * float(p) ** ((k + 1) / 2))
    const = math.factorial(k) / float(p) ** (k + 1) / unit

    def negative(x: FloatArray) -> tuple[float, FloatArray]:
        V = x.reshape(k + 1, p)
        hat = np.fft.fft(V, axis=-1)
        u_hat, wq = hat[:k], np.conj(hat[k]) * Q
        prod_all = np.prod(u_hat, axis=0)
        value = const * float(np.real(np.sum(wq * prod_all)))
        grad = np.empty_like(V)
        for i in range(k):
            others = np.prod(np.delete(u_hat, i, axis=0), axis=0)
            # d u_i^(j) / d u_i(a) = e^{-2 pi i j a / p}: a forward DFT
            grad[i] = const * np.real(np.fft.fft(wq * others))
        # d conj(w^(j)) / d w(a) = e^{2 pi i j a / p}: p times the inverse DFT
        grad[k] = const * p * np.real(np.fft.ifft(Q * prod_all))
        r2 = float(x @ x)
        scale = r2 ** ((k + 1) / 2)
        # d/dx [V / |x|^(k+1)] = grad V / |x|^(k+1) - (k+1) V x / |x|^(k+3)
        g = grad.reshape(-1) / scale - (k + 1) * value * x / (scale * r2)
        return -value / scale, -g

    return _multi_start(negative, p, k, rng=rng, starts=starts, unit=unit)


def _multi_start(
    negative: Callable[[FloatArray], tuple[float, FloatArray]],
    p: int,
    k: int,
    *,
    rng: np.random.Generator,
    starts: int,
    unit: float,
    polish: int = 3,
    coarse: dict[str, float] = COARSE,
) -> PricingResult:
    """Coarse L-BFGS from every random start, then the `polish` best runs to tight tolerances.

    BLAS is limited to one thread meanwhile: L-BFGS-B calls it on vectors of length (k+1) p,
    where a multi-threaded OpenBLAS spends ~10x the work waiting for its threads (measured:
    89 of 110 s of a (101, 2) run were in L-BFGS-B's own loop on a loaded 2-core machine).
    """
    neurons = np.empty((starts, (k + 1) * p))
    values = np.empty(starts)
    with threadpool_limits(limits=1, user_api="blas"):
        for s, x0 in enumerate(random_neurons(p, k, starts, rng=rng)):
            res = minimize(negative, x0, jac=True, method="L-BFGS-B", options=coarse)
            neurons[s] = _unit(res.x)
            values[s] = -float(res.fun)
        for s in np.argsort(values)[::-1][:polish]:
            res = minimize(negative, neurons[s], jac=True, method="L-BFGS-B", options=FINE)
            if -float(res.fun) >= values[s]:
                neurons[s] = _unit(res.x)
                values[s] = -float(res.fun)
    return PricingResult(neurons, values * unit)


def price_full(
    q: FloatArray, p: int, k: int, *, rng: np.random.Generator, starts: int = 10
) -> PricingResult:
    """Multi-start maximisation of sum_{pairs} q(a, c) g(phi; a, c) (the unreduced pricing).

    q: (p^k (p-1),) over the pairs of full_pairs. Brute force over D_p: small p^k only.
    """
    a, c = full_pairs(p, k)
    y = labels(a, p)
    qv = np.asarray(q, dtype=np.float64)
    if qv.shape != (a.shape[0],):
        raise FourierCircuitsError(f"q has shape {qv.shape}; it must be ({a.shape[0]},)")

    def negative(x: FloatArray) -> tuple[float, FloatArray]:
        V = x.reshape(k + 1, p)
        z = sum(V[j, a[:, j]] for j in range(k))
        diff = V[k, y] - V[k, c]
        value = float(np.sum(qv * z**k * diff))
        grad = np.empty_like(V)
        inner = qv * k * z ** (k - 1) * diff
        for j in range(k):
            grad[j] = np.bincount(a[:, j], weights=inner, minlength=p)
        qz = qv * z**k
        grad[k] = np.bincount(y, weights=qz, minlength=p) - np.bincount(c, weights=qz, minlength=p)
        r2 = float(x @ x)
        scale = r2 ** ((k + 1) / 2)
        g = grad.reshape(-1) / scale - (k + 1) * value * x / (scale * r2)
        return -value / scale, -g

    # one tight pass per start (as measured: a coarse pass plus polish was slower here)
    return _multi_start(negative, p, k, rng=rng, starts=starts, unit=1.0, polish=0, coarse=TIGHT)
