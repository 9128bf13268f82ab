"""The max-margin problem as linear programs over a dictionary of unit neurons, solved by column
generation from random neurons (the infinite-width view of Wei, Lee, Liu, Ma 2019).

With theta_i = r_i phi_i, ||phi_i|| = 1 and lambda_i = r_i^(k+1) / sum_l r_l^(k+1), the normalized
margin of arXiv 2402.09469 (Def 3.4) is min over pairs (a, c != y) of sum_i lambda_i g(phi_i; a, c),
so over a dictionary it is the LP
    max t  s.t.  sum_i lambda_i G[i, row] >= t for every row,  lambda in the simplex,
whose dual is a distribution q over the rows: min_q max_i sum_row q(row) G[i, row].
- reduced: one row per d = y - c in 1..p-1 (the margins averaged over the shift group, which never
  lowers a margin); the network is the shift orbit of each support neuron, weight lambda_i / p^k;
- full: one row per pair, p^k (p-1) rows; an independent check for tiny p.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import cvxpy as cp
import numpy as np

import fourier_circuits.theory.budget as budget
from fourier_circuits.constructions.convex.pricing import (
    PricingResult,
    check_starts,
    full_pairs,
    full_rows,
    price,
    price_full,
    random_neurons,
    reduced_rows,
)
from fourier_circuits.constructions.convex.solvers import (
    LP_SOLVERS,
    SolveInfo,
    solve,
)
from fourier_circuits.constructions.convex.sparsify import (
    SPARSIFY_MAX_ENTRIES as SPARSIFY_MAX_ENTRIES,  # re-exported: lp was their home
)
from fourier_circuits.constructions.convex.sparsify import (
    SPARSIFY_MAX_ROWS as SPARSIFY_MAX_ROWS,
)
from fourier_circuits.constructions.convex.sparsify import SparseNetwork as SparseNetwork
from fourier_circuits.constructions.convex.sparsify import sparsify as sparsify
from fourier_circuits.theory import (
    FloatArray,
    FourierCircuitsError,
    PolyNet,
    Task,
    check_int,
    validate_k,
)
from fourier_circuits.theory.task import MAX_EXAMPLES

#: Most rows of the full master LP (one per pair (a, c), p^k (p-1) of them).
FULL_MAX_ROWS = 20_000
#: Most column-generation iterations.
MAX_ITERATIONS = 100_000

#: Relative improvement a priced column must bring over the master's t to be added; column
#: generation stops when the best of the multi-start pricing values is below t (1 + PRICE_RTOL).
PRICE_RTOL = 1e-8
#: Column generation also stops when t rose by less than PRICE_RTOL over this many iterations
#: (HiGHS's interior point solves the master to ~1e-8 relative; below that, columns cannot help).
STALL = 8


@dataclass(frozen=True)
class MasterSolution:
    """One solve of the master LP. lam: (n,) primal weights; q: (rows,) dual distribution;
    t: the primal value; dual_value: max_i (G q)_i, an upper bound on the master's value;
    gap = dual_value - t (the master's duality gap)."""

    t: float
    lam: FloatArray
    q: FloatArray
    dual_value: float
    info: SolveInfo

    @property
    def gap(self) -> float:
        return self.dual_value - self.t


def solve_master(G: FloatArray, *, solvers: tuple[str, ...] = LP_SOLVERS) -> MasterSolution:
    """max t s.t. G^T lam >= t, lam in the simplex, for G: (n columns, rows).

    G is scaled by 1 / max|G| before the solve (margins are ~gamma*, tiny for large p) and the
    values scaled back. The dual q is read from the row constraint, clipped at 0 and normalised.
    """
    scale = float(np.abs(G).max())
    if not np.isfinite(scale) or scale == 0.0:
        raise FourierCircuitsError("the master LP has an all-zero or non-finite margin matrix")
    Gs = G / scale
    lam = cp.Variable(G.shape[0], nonneg=True)
    t = cp.Variable()
    rows = Gs.T @ lam >= t
    problem = cp.Problem(cp.Maximize(t), [rows, cp.sum(lam) == 1])
    info = solve(problem, solvers, what=f"master LP ({G.shape[0]} columns, {G.shape[1]} rows)")
    q = np.clip(np.asarray(rows.dual_value, dtype=np.float64).reshape(-1), 0.0, None)
    if not np.isfinite(q).all() or q.sum() <= 0:
        raise FourierCircuitsError(f"master LP: {info.solver} returned no usable dual values")
    q = q / q.sum()
    lam_v = np.clip(np.asarray(lam.value, dtype=np.float64), 0.0, None)
    lam_v = lam_v / lam_v.sum()
    t_value = float(np.min(Gs.T @ lam_v)) * scale  # the primal value of the cleaned lam
    return MasterSolution(t_value, lam_v, q, float(np.max(Gs @ q)) * scale, info)


@dataclass(frozen=True)
class ColumnGeneration:
    """The result of column generation.

    method: "reduced", "full" (column_generation) or "brute-force" (convex.even_p); neurons:
    (n, (k+1) p) every column generated (unit, flat); master: the final master solution;
    iterations; best_price: the last multi-start pricing value (heuristic, never a bound);
    converged: pricing found no improving column; history: (iteration, t, best_price, columns)
    per iteration; seconds.
    """

    p: int
    k: int
    method: str
    neurons: FloatArray
    master: MasterSolution
    iterations: int
    best_price: float
    converged: bool
    seconds: float
    history: list[tuple[int, float, float, int]] = field(default_factory=list)

    def support(self, *, share: float = 1e-9) -> tuple[FloatArray, FloatArray]:
        """(neurons (s, (k+1) p), lam (s,)) with lam >= share * max lam, lam renormalised."""
        lam = self.master.lam
        keep = lam >= share * lam.max()
        return self.neurons[keep], lam[keep] / lam[keep].sum()


Progress = Callable[[int, float, float, int], None]


def column_generation(
    p: int,
    k: int,
    *,
    rng: np.random.Generator,
    method: str = "reduced",
    initial: int = 3,
    starts: int = 10,
    max_iterations: int = 300,
    max_seconds: float = 600.0,
    progress: Progress | None = None,
    warm_start: FloatArray | None = None,
) -> ColumnGeneration:
    """Column generation from `initial` random neurons, `starts`-start pricing per iteration.

    progress(iteration, t, best_price, columns) is called after each iteration (the caller
    prints; this module is pure). warm_start: (n, (k+1) p) extra initial columns (e.g. the
    orbit_neurons of a reduced solution, to check the full LP cannot improve on them).

    Refused up front (theory.budget) when the margin matrix G, (columns, rows) with at most
    initial + max_iterations x starts columns (plus warm_start), and the columns themselves
    ((k+1) p each), held twice while they grow, would not fit in memory.
    """
    task = Task(p, k)
    if method not in ("reduced", "full"):
        raise FourierCircuitsError(f"method={method!r} must be 'reduced' or 'full'")
    if method == "full" and (
        budget.power_exceeds(task.p, task.k, FULL_MAX_ROWS)
        or task.n_examples * (p - 1) > FULL_MAX_ROWS
    ):
        log_rows = task.log10_examples + math.log10(task.p - 1)
        raise FourierCircuitsError(
            f"method='full' has p^k (p-1) = {budget.magnitude(log_rows, digits=6)} rows at (p, k) "
            f"= ({p}, {k}); it is an independent check for tiny cases (at most {FULL_MAX_ROWS})"
        )
    if not isinstance(rng, np.random.Generator):
        raise FourierCircuitsError(
            f"rng={rng!r} must be a numpy.random.Generator (e.g. numpy.random.default_rng(0))"
        )
    initial = check_int("initial", initial, min_value=1, max_value=10**6)
    starts = check_starts(starts)
    max_iterations = check_int(
        "max_iterations", max_iterations, min_value=1, max_value=MAX_ITERATIONS
    )
    rows = task.p - 1 if method == "reduced" else task.n_examples * (task.p - 1)
    extra = 0 if warm_start is None else int(np.shape(warm_start)[0])
    columns = initial + extra + max_iterations * starts
    budget.require_memory(
        f"column generation at p={task.p}, k={task.k} (up to {columns} columns x {rows} rows)",
        2 * 8 * columns * (rows + (task.k + 1) * task.p),
        fix="lower max_iterations or starts",
    )
    rows_of = reduced_rows if method == "reduced" else full_rows
    pricer = price if method == "reduced" else price_full
    begin = time.perf_counter()
    neurons = random_neurons(p, k, initial, rng=rng)
    if warm_start is not None:
        neurons = np.vstack([neurons, np.asarray(warm_start, dtype=np.float64)])
    return generate_columns(
        neurons,
        p,
        k,
        method=method,
        rows_of=rows_of,
        pricer=pricer,
        rng=rng,
        starts=starts,
        max_iterations=max_iterations,
        max_seconds=max_seconds,
        progress=progress,
        begin=begin,
    )


#: rows_of(neurons (n, (k+1) p), p, k) -> (n, rows): each column's margin on the master's rows.
RowsOf = Callable[[FloatArray, int, int], FloatArray]
#: pricer(q, p, k, *, rng, starts) -> PricingResult: local maxima of q . rows over unit neurons.
Pricer = Callable[..., PricingResult]


def generate_columns(
    neurons: FloatArray,
    p: int,
    k: int,
    *,
    method: str,
    rows_of: RowsOf,
    pricer: Pricer,
    rng: np.random.Generator,
    starts: int,
    max_iterations: int,
    max_seconds: float = math.inf,
    progress: Progress | None = None,
    begin: float | None = None,
) -> ColumnGeneration:
    """The column-generation loop from the columns `neurons`: solve the master, price its dual q,
    add every priced neuron above t (1 + PRICE_RTOL); stop when none is (converged), after
    max_iterations or max_seconds (since `begin`, default now), or when t rose by at most
    PRICE_RTOL over STALL iterations. Any rows: column_generation's reduced and full rows, and
    constructions.convex.even_p's brute-force rows for any p."""
    begin = time.perf_counter() if begin is None else begin
    G = rows_of(neurons, p, k)
    history: list[tuple[int, float, float, int]] = []
    converged = False
    best = np.inf
    iteration = 0
    while True:
        iteration += 1
        master = solve_master(G)
        priced = pricer(master.q, p, k, rng=rng, starts=starts)
        best = priced.best
        history.append((iteration, master.t, best, G.shape[0]))
        if progress is not None:
            progress(iteration, master.t, best, G.shape[0])
        threshold = master.t + PRICE_RTOL * abs(master.t)
        if best <= threshold:
            converged = True
            break
        if iteration >= max_iterations or time.perf_counter() - begin > max_seconds:
            break
        rise = history[-1][1] - history[-1 - STALL][1] if len(history) > STALL else np.inf
        if rise <= PRICE_RTOL * abs(history[-1][1]):
            break  # the master's t stopped rising: the LP solver's accuracy is reached
        new = priced.neurons[priced.values > threshold]
        neurons = np.vstack([neurons, new])
        G = np.vstack([G, rows_of(new, p, k)])
    return ColumnGeneration(
        p=p,
        k=k,
        method=method,
        neurons=neurons,
        master=master,
        iterations=iteration,
        best_price=float(best),
        converged=converged,
        seconds=time.perf_counter() - begin,
        history=history,
    )


def symmetrised_dual(q_full: FloatArray, p: int, k: int) -> FloatArray:
    """Average a distribution over the pairs of full_pairs over the shift group: the mass on
    each d = y - c in 1..p-1, shape (p-1,)."""
    a, c = full_pairs(p, k)
    d = (a.sum(axis=1) - c) % p
    return np.asarray(np.bincount(d, weights=q_full, minlength=p)[1:], dtype=np.float64)


def reduced_margin(neurons: FloatArray, lam: FloatArray, p: int, k: int) -> float:
    """min_d sum_i lam_i G(phi_i, d): the normalized margin of the orbit network (every pair
    (a, c) of the orbit network has margin sum_i lam_i G(phi_i, y - c)), recomputed from the
    weights by the Fourier form of the reduced rows."""
    norms = np.linalg.norm(neurons, axis=1)
    # unit neurons make lam the share of ||theta_i||^(k+1); rescale if they are not exactly unit
    weights = lam * norms ** -(k + 1)
    return float(np.min(weights @ reduced_rows(neurons, p, k)))


def orbit_width(n_support: int, p: int, k: int) -> int:
    return n_support * p**k


def orbit_network(neurons: FloatArray, lam: FloatArray, p: int, k: int) -> PolyNet:
    """The explicit network: for each support neuron phi_i and each shift t in Z_p^k the neuron
    u_j(. + t_j), w(. + t_1 + ... + t_k), scaled so that ||theta||^(k+1) = lam_i / p^k;
    ||theta||_{2,k+1} = 1 when lam sums to 1. Width len(lam) * p^k."""
    Task(p, k)
    U, W = orbit_arrays(neurons, lam, p, k)
    support = int(np.asarray(neurons).reshape(-1, k + 1, p).shape[0])
    return PolyNet(
        U, W, {"made_by": "fourier_circuits.constructions.convex.orbit_network", "support": support}
    )


def orbit_arrays(
    neurons: FloatArray, lam: FloatArray, p: int, k: int
) -> tuple[FloatArray, FloatArray]:
    """orbit_network's arrays U (m, k, p) and W (m, p), for any p >= 2: the shift reduction does
    not need p odd (constructions.convex.even_p uses it where PolyNet, needing odd p, cannot).
    Refused when p^k > theory.task.MAX_EXAMPLES or the arrays (the stacked shifts, then the
    scaled copy: 2 x 8 s p^k (k+1) p bytes for s support neurons) would not fit in memory."""
    k = validate_k(k)
    p = check_int("p", p, min_value=2)
    if budget.power_exceeds(p, k, MAX_EXAMPLES):
        raise FourierCircuitsError(
            f"the orbit network has width support x p^k, p^k = "
            f"{budget.magnitude(k * math.log10(p))}: more than the limit {MAX_EXAMPLES:.3e}"
        )
    n_examples = p**k
    V = np.asarray(neurons, dtype=np.float64).reshape(-1, k + 1, p)
    budget.require_memory(
        f"the orbit network of {V.shape[0]} neurons x p^k = {n_examples} shifts (p={p}, k={k})",
        2 * 8 * V.shape[0] * n_examples * (k + 1) * p,
    )
    V = V / np.linalg.norm(V.reshape(V.shape[0], -1), axis=1)[:, None, None]
    shifts = np.indices((p,) * k).reshape(k, -1).T  # (p^k, k)
    idx = np.arange(p)
    # u_j shifted by t_j: u_j(a + t_j) = u_j[(a + t_j) mod p]
    U = np.stack(
        [V[:, j, :][:, (idx[None, :] + shifts[:, j : j + 1]) % p] for j in range(k)], axis=2
    )  # (s, p^k, k, p)
    W = V[:, k, :][:, (idx[None, :] + shifts.sum(axis=1, keepdims=True)) % p]  # (s, p^k, p)
    r = (np.asarray(lam, dtype=np.float64) / n_examples) ** (1.0 / (k + 1))  # (s,)
    m = V.shape[0] * n_examples
    return (r[:, None, None, None] * U).reshape(m, k, p), (r[:, None, None] * W).reshape(m, p)


def orbit_neurons(neurons: FloatArray, p: int, k: int) -> FloatArray:
    """Every shift of every neuron, unit and flat: (n, (k+1) p) -> (n p^k, (k+1) p)."""
    net = orbit_network(neurons, np.ones(len(neurons)), p, k)
    flat = np.concatenate([net.U.reshape(net.m, -1), net.W], axis=1)
    return flat / np.linalg.norm(flat, axis=1, keepdims=True)
