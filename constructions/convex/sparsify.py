"""A vertex (basic) solution of the full max-margin LP on given columns: a network with at most
p^k (p-1) + 1 neurons (constructions.convex.lp solves the same LP by column generation).

Sizes, refused up front: the full LP has one row per pair (a, c), p^k (p-1) rows (at most
SPARSIFY_MAX_ROWS), and a dense constraint matrix of columns x rows entries (at most
SPARSIFY_MAX_ENTRIES).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

import fourier_circuits.theory.budget as budget
from fourier_circuits.constructions.convex.pricing import full_rows
from fourier_circuits.constructions.convex.solvers import solve_linprog
from fourier_circuits.theory import FloatArray, FourierCircuitsError, PolyNet, Task


@dataclass(frozen=True)
class SparseNetwork:
    """A vertex solution of the full LP on given columns: neurons (s, (k+1) p) unit, lam (s,)
    their shares, t the LP value (the margin is to be recomputed from the weights)."""

    neurons: FloatArray
    lam: FloatArray
    t: float

    def network(self, p: int, k: int) -> PolyNet:
        """The explicit network: neuron i scaled so that ||theta_i||^(k+1) = lam_i."""
        V = self.neurons.reshape(-1, k + 1, p)
        r = self.lam ** (1.0 / (k + 1))
        return PolyNet(
            r[:, None, None] * V[:, :k],
            r[:, None] * V[:, k],
            {"made_by": "fourier_circuits.constructions.convex.sparsify", "support": len(self.lam)},
        )


#: Largest full LP that sparsify solves: rows (p^k (p-1), one per pair), and entries of its dense
#: constraint matrix (columns x rows; 2.5e7 float64 = 200 MB, several copies live at once).
#: Measured (2 cores): (7, 2) 294 rows 4 s, (9, 2) 648 rows 8 s, (11, 2) 1210 rows 52 s, (7, 3)
#: 2058 rows 550 s and 1 GB; (11, 3) (13310 rows x ~13000 columns) was killed for memory.
SPARSIFY_MAX_ROWS = 1_500
SPARSIFY_MAX_ENTRIES = 25_000_000


def sparsify(columns: FloatArray, p: int, k: int, *, share: float = 1e-9) -> SparseNetwork:
    """A vertex (basic) solution of the full LP max t s.t. sum_i lam_i g(phi_i; a, c) >= t on
    every pair, lam in the simplex, over `columns` (e.g. orbit_neurons of a reduced support), by
    HiGHS's dual simplex (scipy's, through solvers.solve_linprog: optimal or an error): a vertex
    has at most p^k (p-1) + 1 nonzero lam, usually far fewer than the orbit network's support *
    p^k. Tiny p^k only (one row per pair)."""
    task = Task(p, k)
    if budget.power_exceeds(task.p, task.k, SPARSIFY_MAX_ROWS) or (
        task.n_examples * (p - 1) > SPARSIFY_MAX_ROWS
    ):
        log_rows = task.log10_examples + math.log10(task.p - 1)
        raise FourierCircuitsError(
            f"sparsify solves the full LP with p^k (p-1) = {budget.magnitude(log_rows, digits=6)} "
            f"rows at (p, k) = ({p}, {k}); at most {SPARSIFY_MAX_ROWS}"
        )
    rows = task.n_examples * (p - 1)
    if len(columns) * rows > SPARSIFY_MAX_ENTRIES:
        raise FourierCircuitsError(
            f"sparsify: {len(columns)} columns x {rows} rows = {len(columns) * rows} entries at "
            f"(p, k) = ({p}, {k}); at most {SPARSIFY_MAX_ENTRIES} (memory)"
        )
    G = full_rows(columns, p, k)  # (n, rows)
    scale = float(np.abs(G).max())
    n = G.shape[0]
    # variables (lam, t): minimise -t s.t. t - G^T lam <= 0, sum lam = 1, lam >= 0, t free
    A_ub = np.hstack([-G.T / scale, np.ones((G.shape[1], 1))])
    A_eq = np.concatenate([np.ones(n), [0.0]])[None]
    cost = np.zeros(n + 1)
    cost[-1] = -1.0
    bounds: list[tuple[float | None, float | None]] = [(0.0, None)] * n + [(None, None)]
    res = solve_linprog(
        cost,
        A_ub=A_ub,
        b_ub=np.zeros(G.shape[1]),
        A_eq=A_eq,
        b_eq=np.ones(1),
        bounds=bounds,
        method="highs-ds",
        what=f"sparsify: full LP on {n} columns x {G.shape[1]} rows",
    )
    assert res.x is not None  # solve_linprog returns only optimal solutions
    lam = np.clip(res.x[:n], 0.0, None)
    keep = lam > share * lam.max()
    lam = lam[keep] / lam[keep].sum()
    return SparseNetwork(columns[keep], lam, float(np.min(lam @ G[keep])))
