"""Delsarte's SDP for the smallest design (docs/min-width.md), reduced by its symmetry so that it
finishes for k = 4 and 5: the matrix M is indexed by A = V u {0} (V: the unwanted characters) and
the program (maximise 1'M1, tr M = 1, M >= 0, sum_{a-b=u} M_ab = 0 for u outside V u {0}) is
invariant under G = S_k x {+-1}, the permutations of the k coordinates and the sign v -> -v,
which map V to itself and act linearly (g(a) - g(b) = g(a - b)). Averaging a solution over G
keeps it feasible with the same value, so an invariant optimum exists.

Invariant matrices form an algebra that the symmetry-adapted basis block-diagonalises: with one
column q per copy of each irreducible representation rho (Q_rho: n x m_rho), M = sum over rho of
the blocks B_rho = Q_rho' M Q_rho (m_rho x m_rho, each repeated d_rho = dim rho times), so
M >= 0 iff every B_rho >= 0, and every invariant functional is <C, M> = sum_rho d_rho
<Q_rho' C Q_rho, B_rho>. The SDP in the blocks has a few blocks of size <= 36 (k = 4) instead of one
431 x 431 matrix. The basis is found numerically (Murota, Kanno, Kojima, Kojima 2010): the
eigenspaces of a random invariant matrix supported on the point orbits of G are irreducible
submodules, a second random invariant matrix links those of the same representation, and
projecting it aligns one vector per copy.

Nothing here is trusted for the bound: the blocks are turned back into the full invariant M
(M = sum_rho d_rho avg_g pi(g) Q_rho B_rho Q_rho' pi(g)', Schur's lemma) and
constructions.min_width.delsarte_ratio makes that M rigorous exactly as for the unreduced SDP.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

import fourier_circuits.theory.budget as budget
from fourier_circuits.constructions.convex.solvers import solve
from fourier_circuits.theory import FloatArray, FourierCircuitsError, IntArray

#: Relative tolerance for equal eigenvalues of the random invariant matrix (its distinct
#: eigenvalues are O(1) apart over n <= 2313; rounding is ~1e-13).
EIGEN_RTOL = 1e-8
#: Random entries of the second invariant matrix before it is averaged over G (enough to link
#: every copy of each representation; cheap: |G| LINK_PAIRS updates).
LINK_PAIRS = 200_000
#: Entries below this are rounding in the basis and the block coefficients.
ZERO_ATOL = 1e-12
#: Tried when the chosen solver fails, with these options (first-order: the rigorous repair
#: absorbs its looser feasibility).
FALLBACK_SOLVER = "SCS"
FALLBACK_OPTIONS = {"eps_abs": 1e-7, "eps_rel": 1e-7, "max_iters": 100_000}


@dataclass(frozen=True)
class SymmetricSdp:
    """The reduced program's answer: the full invariant M (n, n) rebuilt from the blocks, the
    block sizes (m_rho, d_rho), the solver that answered, its status and value, and seconds."""

    k: int
    M: FloatArray
    blocks: tuple[tuple[int, int], ...]
    n_constraints: int
    solver: str
    status: str
    inaccurate: bool
    value: float
    seconds: float


def group_action(A: IntArray) -> IntArray:
    """(|G|, n): row g maps index i to the index of g(A[i]), G = S_k x {+-1}."""
    k = A.shape[1]
    index = {tuple(a): i for i, a in enumerate(A.tolist())}
    rows = []
    for perm in itertools.permutations(range(k)):
        for s in (1, -1):
            image = s * A[:, list(perm)]
            missing = [tuple(v) for v in image.tolist() if tuple(v) not in index]
            if missing:
                raise FourierCircuitsError(
                    f"the characters are not invariant under S_k x {{+-1}}: {missing[0]} (an "
                    "image of one of them) is not among them"
                )
            rows.append([index[tuple(v)] for v in image.tolist()])
    return np.array(rows, dtype=np.int64)


def _average(X: FloatArray, act: IntArray) -> FloatArray:
    """(1/|G|) sum_g pi(g) X pi(g)': the invariant part of X."""
    R = np.zeros_like(X)
    for p in act:
        R += X[np.ix_(p, p)]
    return R / len(act)


def _scatter_average(ia: IntArray, ib: IntArray, values: FloatArray, act: IntArray) -> FloatArray:
    """The symmetrised invariant part of the sparse X with X[ia, ib] = values: (1/|G|) sum_g
    pi(g) X pi(g)' (entry (g a, g b) receives X[a, b]; distinct pairs stay distinct under g)."""
    n = act.shape[1]
    R = np.zeros((n, n))
    for g in act:
        R[g[ia], g[ib]] += values
    R /= len(act)
    return (R + R.T) / 2


def adapted_basis(act: IntArray, *, seed: int = 0) -> list[tuple[FloatArray, int]]:
    """[(Q_rho, d_rho)]: per isotypic component, one unit vector per copy, aligned (module
    docstring); checked: sum m_rho d_rho = n."""
    n = act.shape[1]
    rng = np.random.default_rng(seed)
    orbit = act.min(axis=0)  # each point's orbit, named by its smallest index
    ia, ib = np.nonzero(orbit[:, None] == orbit[None, :])  # pairs within a point orbit
    R1 = _scatter_average(ia, ib, rng.standard_normal(len(ia)), act)
    # R2 links the copies: random entries on LINK_PAIRS pairs (or all), averaged over G
    count = min(n * n, LINK_PAIRS)
    flat = rng.choice(n * n, size=count, replace=False)
    R2 = _scatter_average(flat // n, flat % n, rng.standard_normal(count), act)
    w, E = np.linalg.eigh(R1)
    spaces, i = [], 0
    scale = max(1.0, float(np.abs(w).max()))
    while i < n:  # eigenspaces: runs of equal eigenvalues
        j = i + 1
        while j < n and w[j] - w[i] < EIGEN_RTOL * scale:
            j += 1
        spaces.append(E[:, i:j])
        i = j
    # eigenspaces of the same representation are linked by R2 (union-find)
    parent = list(range(len(spaces)))

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    T = np.abs(E.T @ R2 @ E)  # R2 in the eigenbasis: eigenspace a, b linked iff block (a, b) != 0
    starts = np.cumsum([0] + [sp_.shape[1] for sp_ in spaces])
    # the largest entry of each (a, b) block, by reductions over the runs of equal eigenvalues
    peaks = np.maximum.reduceat(np.maximum.reduceat(T, starts[:-1], axis=0), starts[:-1], axis=1)
    dims = np.diff(starts)
    linked = (peaks > 1e-8 * scale) & (dims[:, None] == dims[None, :])
    for a, b in zip(*np.nonzero(np.triu(linked, 1)), strict=True):
        parent[root(int(a))] = root(int(b))
    groups: dict[int, list[int]] = {}
    for a in range(len(spaces)):
        groups.setdefault(root(a), []).append(a)
    basis = []
    for members in groups.values():
        first = spaces[members[0]]
        x1 = first @ rng.standard_normal(first.shape[1])
        x1 /= np.linalg.norm(x1)
        columns = [x1]
        for b in members[1:]:  # the image of x1 in copy b: project R2 x1 onto it
            y = spaces[b] @ (spaces[b].T @ (R2 @ x1))
            columns.append(y / np.linalg.norm(y))
        Q = np.array(columns).T
        Q[np.abs(Q) < ZERO_ATOL] = 0.0
        basis.append((Q, first.shape[1]))
    total = sum(Q.shape[1] * d for Q, d in basis)
    if total != n:
        raise FourierCircuitsError(f"symmetry-adapted basis: sum m_rho d_rho = {total} != n = {n}")
    return basis


def outside_orbits(A: IntArray, V: set[tuple[int, ...]], act: IntArray) -> list[sp.csr_array]:
    """One invariant 0/1 matrix C (n, n) per G-orbit of differences u = a - b outside V u {0}:
    C_ab = 1 when a - b is in the orbit (so <C, M> = 0 is the orbit's constraints, summed)."""
    n, k = A.shape
    half = 2 * int(np.abs(A).max())  # differences lie in [-half, half]^k
    base = 2 * half + 1
    diff = (A[:, None, :] - A[None, :, :]).reshape(n * n, k)
    weights = base ** np.arange(k)
    codes = (diff + half) @ weights  # one integer per difference vector
    good = np.array([(np.array(v) + half) @ weights for v in (*V, (0,) * k)])
    outside = ~np.isin(codes, good)
    flat = np.flatnonzero(outside)
    # the orbit of u: the smallest code of g(u) over G (permutations and sign), computed once per
    # distinct difference
    distinct, back = np.unique(codes[flat], return_inverse=True)
    u = diff[flat[np.unique(back, return_index=True)[1]]]  # one vector per distinct code
    canon = np.full(len(distinct), np.iinfo(np.int64).max)
    for perm in itertools.permutations(range(k)):
        for s in (1, -1):
            canon = np.minimum(canon, (s * u[:, list(perm)] + half) @ weights)
    labels, which = np.unique(canon[back], return_inverse=True)
    rows, cols = np.divmod(flat, n)
    matrices = []
    order = np.argsort(which, kind="stable")
    bounds = np.searchsorted(which[order], np.arange(len(labels) + 1))
    for o in range(len(labels)):
        sel = order[bounds[o] : bounds[o + 1]]
        data = np.ones(len(sel))
        matrices.append(sp.csr_array((data, (rows[sel], cols[sel])), shape=(n, n)))
    return matrices


def require_symmetric_sdp(k: int, n: int) -> None:
    """Refuse a reduction that would not fit: about 12 float64 n x n matrices at once (the random
    invariant matrices, their eigenvectors, the rebuilt M) and |G| n^2 steps of averaging."""
    order = 2 * np.prod(np.arange(1, k + 1))
    budget.require_memory(
        f"the symmetry-reduced Delsarte SDP for k={k} (n = {n})",
        12 * 8 * n * n,
        fix="choose a smaller k",
    )
    budget.require_time(
        f"the symmetry-reduced Delsarte SDP for k={k}", 40.0 * order * n * n, fix="a smaller k"
    )


def symmetric_sdp(
    A: IntArray,
    V: set[tuple[int, ...]],
    *,
    solver: str = "CLARABEL",
    solver_options: dict[str, Any] | None = None,
    polish_rounds: int = 0,
) -> SymmetricSdp:
    """Solve the G-invariant Delsarte SDP over A = V u {0} (A[0] = 0) in its blocks and return
    the rebuilt invariant M; the caller makes M rigorous (min_width.delsarte_ratio). The blocks
    are first projected onto the linear rows, then polished by `polish_rounds` alternating
    projections (_project)."""
    start = time.perf_counter()
    n, k = A.shape
    require_symmetric_sdp(k, n)
    act = group_action(A)
    basis = adapted_basis(act)
    sparse_q = [sp.csc_array(Q) for Q, _ in basis]
    outside = outside_orbits(A, V, act)
    # rows: tr M = 1, then one <C, M> = 0 per orbit outside; per block the coefficients
    # d_rho vec(Q' C Q) of each row (<C, M> = sum_rho d_rho <Q' C Q, B_rho> for invariant C)
    # each orbit's row divided by its number of entries (a mean, not a sum: rows of one scale)
    functionals = [sp.identity(n, format="csr"), *(C / C.nnz for C in outside)]
    blocks, expressions, objective, coefs = [], [], [], []
    for (Q, d), Qs in zip(basis, sparse_q, strict=True):
        m = Q.shape[1]
        B = cp.Variable((m, m), PSD=True)
        rows = [(d * (Qs.T @ C @ Qs).toarray()).ravel() for C in functionals]
        coef = np.array(rows)
        coef[np.abs(coef) < ZERO_ATOL] = 0.0
        coefs.append(coef)
        expressions.append(sp.csr_array(coef) @ cp.vec(B, order="C"))
        total = Q.sum(axis=0)  # <J, M> = 1'M1: its block is d (Q'1)(Q'1)'
        objective.append(d * cp.sum(cp.multiply(np.outer(total, total), B)))
        blocks.append(B)
    rhs = np.zeros(len(functionals))
    rhs[0] = 1.0
    problem = cp.Problem(cp.Maximize(cp.sum(cp.hstack(objective))), [cp.sum(expressions) == rhs])
    options = {FALLBACK_SOLVER: FALLBACK_OPTIONS, solver: dict(solver_options or {})}
    what = f"symmetric Delsarte SDP (k={k})"
    # Clarabel sometimes stops at a numerical error on these blocks (k = 5; k = 4 without its
    # equilibration): SCS is tried next, and either answer is made rigorous by the caller
    solvers = (solver,) if solver == FALLBACK_SOLVER else (solver, FALLBACK_SOLVER)
    info = solve(problem, solvers, what=what, options=options, allow_inaccurate=True)
    solved = [np.asarray(B.value, dtype=float) for B in blocks if B.value is not None]
    if len(solved) != len(blocks):
        raise FourierCircuitsError(f"symmetric Delsarte SDP (k={k}): no block values")
    values = _project([(V + V.T) / 2 for V in solved], coefs, rhs, polish_rounds)
    N = np.zeros((n, n))
    for (Q, d), value in zip(basis, values, strict=True):
        N += d * (Q @ value @ Q.T)
    M = _average(N, act)  # Schur: the average of pi(g) q q' pi(g)' is I / d on each copy
    return SymmetricSdp(
        k=k,
        M=(M + M.T) / 2,
        blocks=tuple((Q.shape[1], d) for Q, d in basis),
        n_constraints=len(functionals),
        solver=info.solver,
        status=info.status,
        inaccurate=info.inaccurate,
        value=float(problem.value),
        seconds=time.perf_counter() - start,
    )


def _project(
    values: list[FloatArray], coefs: list[FloatArray], rhs: FloatArray, rounds: int = 0
) -> list[FloatArray]:
    """The blocks moved to the nearest point (least squares) where the linear rows hold exactly,
    up to rounding: a first-order solver (SCS) leaves residuals ~1e-6 that the rigorous repair
    would pay for entry by entry. Then `rounds` alternating projections (negative eigenvalues of
    each block clipped to 0, the rows restored): they shrink the eigenvalue defect, which the
    repair pays n times (k = 5, SCS at 600 s: -2.4e-6 to -1.4e-7 in 200 rounds, the value
    92.235 to 92.226). delsarte_ratio checks the result anyway."""
    C = np.hstack(coefs)  # (rows, sum m_rho^2)
    chol = np.linalg.cholesky(C @ C.T)

    def restore(x: FloatArray) -> FloatArray:  # x + C' (C C')^-1 (rhs - C x)
        y = np.linalg.solve(chol.T, np.linalg.solve(chol, rhs - C @ x))
        return x + C.T @ y

    sizes = [v.shape[0] for v in values]
    starts = np.cumsum([0] + [m * m for m in sizes])

    def split(x: FloatArray) -> list[FloatArray]:
        blocks = [x[a:b].reshape(m, m) for a, b, m in zip(starts, starts[1:], sizes, strict=False)]
        return [(B + B.T) / 2 for B in blocks]

    x = restore(np.concatenate([v.ravel() for v in values]))
    for _ in range(rounds):
        clipped = []
        for B in split(x):
            w, E = np.linalg.eigh(B)
            clipped.append(((E * np.maximum(w, 0.0)) @ E.T).ravel())
        x = restore(np.concatenate(clipped))
    return split(x)


# --- storing an invariant M compactly ----------------------------------------------------------
def pair_orbits(A: IntArray) -> IntArray:
    """(n, n) labels 0..r-1 of the orbits of G = S_k x {+-1} on unordered pairs {a, b} of rows
    of A (g acts on both; (a, b) and (b, a) share a label): a G-invariant symmetric M is one number
    per label. A permutation of the coordinates permutes the k rows (a_j, b_j) of the pair, so the
    sorted rows name its S_k-orbit; the smallest of the names of (a, b), (-a, -b), (b, a), (-b, -a)
    names its orbit. Labels are numbered in the order of these names (deterministic given A)."""
    n, k = A.shape
    off = int(np.abs(A).max())
    base = 2 * off + 1
    a = A[:, None, :] + off
    b = A[None, :, :] + off
    best = np.full(n * n, np.iinfo(np.int64).max)
    for x, y in ((a, b), (2 * off - a, 2 * off - b), (b, a), (2 * off - b, 2 * off - a)):
        rows = np.sort((x * base + y).reshape(n * n, k), axis=1)  # (n^2, k): one code per row
        name = rows @ (base * base) ** np.arange(k - 1, -1, -1, dtype=np.int64)  # lexicographic
        best = np.minimum(best, name)
    _, labels = np.unique(best, return_inverse=True)
    return labels.reshape(n, n)


def compress_invariant(M: FloatArray, labels: IntArray) -> FloatArray:
    """One value per pair orbit: the mean of M over the orbit (M itself if M is invariant)."""
    count = np.bincount(labels.ravel())
    return np.bincount(labels.ravel(), weights=np.asarray(M, dtype=float).ravel()) / count


def expand_invariant(values: FloatArray, labels: IntArray) -> FloatArray:
    """The invariant symmetric M with M_ab = values[label(a, b)] (the inverse of compress)."""
    values = np.asarray(values, dtype=float)
    if values.shape != (int(labels.max()) + 1,):
        raise FourierCircuitsError(
            f"the stored matrix has {values.size} pair-orbit values; the symmetry needs "
            f"{int(labels.max()) + 1}"
        )
    return values[labels]
