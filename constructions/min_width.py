"""The smallest width that reaches gamma*: lower bounds on the neurons per frequency, integer
programs that search for small (weighted) phase designs, and the aliasing of tiny p.

A weighted design is a measure mu = sum_i w_i delta_{phi_i} (w_i > 0, distinct phi_i in T^k); its
neurons of one frequency are the unit neurons of constructions.analytic scaled by w_i^(1/(k+1)),
so each contributes w_i f_i to the logits and w_i to sum ||theta_i||^(k+1). With mu^(v) =
sum_i w_i e^{i v.phi_i}, the design reaches gamma* iff mu^(v) = 0 for every unwanted v
(constructions.exact, module docstring): the normalized margin is a weighted average, and equal
total weight per frequency ties the wrong labels.

Lower bound (Delsarte's linear-programming argument, proved in docs/min-width.md). If
F(t) = sum_u F_u e^{i u.t} >= 0 on T^k has F_u = 0 for u outside V u {0} (V: the unwanted
characters), then every such design has at least F(0) / F_0 points:
    F_0 (sum w)^2 = sum_u F_u |mu^(u)|^2 = sum_{i,l} w_i w_l F(phi_i - phi_l)
                 >= F(0) sum_i w_i^2 >= F(0) (sum w)^2 / N        (Cauchy-Schwarz).
F = |sum_{a in A} e^{i a.t}|^2 with every non-zero difference of A unwanted (a clique) gives |A|;
F = g* M g with g = (e^{i a.t})_{a in A}, M >= 0 (a semidefinite program) gives more.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cvxpy as cp
import numpy as np
import scipy.linalg
import scipy.sparse as sp

import fourier_circuits.theory.budget as budget
from fourier_circuits.constructions.analytic import require_network
from fourier_circuits.constructions.convex.solvers import (
    INFEASIBLE,
    LIMIT_FEASIBLE,
    LIMIT_NONE,
    OPTIMAL,
    solve,
    solve_milp,
)
from fourier_circuits.constructions.designs import PhaseDesign
from fourier_circuits.constructions.exact import _expansion, unwanted_characters
from fourier_circuits.theory import (
    FloatArray,
    FourierCircuitsError,
    IntArray,
    PolyNet,
    Task,
    beta,
    check_int,
    validate_k,
)

# Characters whose non-zero differences are all unwanted (the clique bound). k = 2, 3, 4: maximum
# cliques of the graph on V u {0} (networkx.max_weight_clique, offline); k = 5: randomized greedy
# (a clique, perhaps not maximum; the bound it gives is valid either way).
_CLIQUES = {
    2: "0,0 1,-1 1,1 2,0 2,2 3,1",
    3: "0,0,0 1,0,-1 1,-1,0 1,1,0 1,0,1 2,-1,-1 2,1,-1 2,2,0 2,0,0 2,1,1 3,1,0 3,0,1 3,2,1 "
    "3,1,2 4,1,1",
    4: "0,0,0,0 1,-1,0,0 1,0,-1,0 1,0,0,-1 1,0,0,1 1,0,1,0 1,1,0,0 2,-1,-1,0 2,-1,0,-1 2,0,-1,-1 "
    "2,0,0,0 2,0,1,-1 2,0,1,1 2,1,-1,0 2,1,0,-1 2,1,0,1 2,1,1,0 2,2,0,0 3,0,0,1 3,0,1,0 3,1,0,0 "
    "3,1,1,-1 3,1,1,1 3,1,2,0 3,1,2,2 3,2,0,1 3,2,1,0 3,2,1,2 3,2,2,1 4,0,1,1 4,1,0,1 4,1,1,0 "
    "4,1,1,2 4,1,2,1 4,2,1,1 5,1,1,1",
    5: "-3,-3,-1,0,-1 -2,-4,-1,0,-1 -2,-3,-2,0,-1 -2,-3,-1,-1,-1 -2,-3,-1,0,-2 -2,-3,-1,0,0 "
    "-2,-3,-1,1,-1 -2,-3,0,0,-1 -2,-2,-1,0,-1 -1,-4,-2,0,-1 -1,-4,-1,-1,-1 -1,-4,-1,0,-2 "
    "-1,-3,-2,-1,-1 -1,-3,-2,0,-2 -1,-3,-1,-1,-2 -1,-3,-1,0,-1 -1,-3,-1,1,-2 -1,-3,-1,1,0 "
    "-1,-3,0,-1,-1 -1,-3,0,0,-2 -1,-3,0,0,0 -1,-3,0,1,-1 -1,-2,-2,0,-1 -1,-2,-1,-1,-1 "
    "-1,-2,-1,0,-2 -1,-2,-1,0,0 -1,-2,-1,1,-1 -1,-2,0,-1,0 -1,-2,0,0,-1 -1,-2,0,0,1 -1,-2,0,1,0 "
    "-1,-1,-1,0,-1 -1,-1,-1,1,0 -1,-1,0,0,0 -1,-1,0,1,-1 0,-3,-1,0,0 0,-3,-1,1,-1 0,-3,0,0,-1 "
    "0,-2,-2,0,0 0,-2,-1,-1,0 0,-2,-1,0,-1 0,-2,-1,0,1 0,-2,-1,1,0 0,-2,0,-1,-1 0,-2,0,0,0 "
    "0,-2,0,1,-1 0,-2,1,2,1 0,-1,-1,0,0 0,-1,-1,1,-1 0,-1,0,-1,0 0,-1,0,0,-1 0,-1,0,0,1 "
    "0,-1,0,1,0 0,-1,0,2,1 0,-1,1,0,0 0,-1,1,1,-1 0,-1,1,1,1 0,-1,1,2,0 0,0,-1,1,0 0,0,0,0,0 "
    "0,0,0,1,-1 0,0,0,1,1 0,0,0,2,0 0,0,1,1,0 1,-2,-1,0,0 1,-2,0,1,0 1,-2,0,2,1 1,-2,1,1,1 "
    "1,-2,1,2,0 1,-1,-1,1,0 1,-1,0,0,0 1,-1,0,1,-1 1,-1,0,1,1 1,-1,0,2,0 1,-1,1,1,0 1,0,0,1,0 "
    "2,-1,0,1,0",
}


def _digits(text: str) -> tuple[tuple[int, ...], ...]:
    """Points written as digit strings: "023 130" -> ((0, 2, 3), (1, 3, 0))."""
    return tuple(tuple(int(c) for c in word) for word in text.split())


#: Designs for tiny p <= 2k - 1, found by search_design(k, 6, p=p) (aliased conditions): they reach
#: gamma* at that p only (exact_normalized_margin), not for larger p (prove_design fails).
ALIASED_DESIGNS: dict[tuple[int, int], PhaseDesign] = {
    (3, 3): PhaseDesign(
        "aliased-p3",
        6,
        _digits("023 130 134 241 243 245 352 354 405"),
    ),
}
#: Largest k for which sdp_lower_bound agrees to run: k = 2, 3 unreduced (a 15 x 15 and an
#: 81 x 81 PSD matrix, ~20 s) or reduced by symmetry (under 1 s); k = 4 (431 x 431) only reduced
#: by symmetry (constructions.convex.delsarte, ~10 s). k = 5 (2313 x 2313) reduces too, but
#: Clarabel stops at a numerical error; its SCS certificate is stored (constructions.stored_bounds).
SDP_MAX_K = 4
#: Largest k solved unreduced by default (symmetric=None).
SDP_FULL_MAX_K = 2
#: Slack added to the SDP certificate beyond its measured defects, far above float64 rounding
#: (entries of M are O(1), sums of at most 81^2 of them: rounding ~1e-12).
SDP_PAD = 1e-7


@dataclass(frozen=True)
class LowerBound:
    """Every design of k summands reaching gamma* has at least `value` points per frequency."""

    k: int
    value: int
    method: str
    raw: float  # F(0) / F_0 before rounding up
    solver_status: str | None = None  # the SDP solver's status (None: no solver involved)


def orthogonal_characters(k: int) -> tuple[tuple[int, ...], ...]:
    """The stored clique A of characters (module docstring): every a - b != 0 is unwanted."""
    k = validate_k(k)
    if k not in _CLIQUES:
        raise FourierCircuitsError(f"k={k}: orthogonal characters are stored for k in 2..5")
    return tuple(tuple(int(c) for c in a.split(",")) for a in _CLIQUES[k].split())


def clique_lower_bound(k: int, chars: tuple[tuple[int, ...], ...] | None = None) -> LowerBound:
    """|A| for a clique A (default: the stored one), after checking every difference is unwanted:
    the vectors (sqrt(w_i) e^{i a.phi_i})_i, a in A, are then orthogonal, so N >= |A|."""
    A = orthogonal_characters(k) if chars is None else tuple(tuple(a) for a in chars)
    V = set(unwanted_characters(validate_k(k)))
    for a, b in itertools.permutations(A, 2):
        d = tuple(x - y for x, y in zip(a, b, strict=True))
        if d not in V:
            raise FourierCircuitsError(f"characters {a} and {b}: {d} is not unwanted (k={k})")
    if len(set(A)) != len(A):
        raise FourierCircuitsError("the characters must be distinct")
    return LowerBound(k, len(A), "clique of characters with unwanted differences", float(len(A)))


def sdp_lower_bound(
    k: int,
    *,
    solver: str = "CLARABEL",
    solver_options: Mapping[str, Any] | None = None,
    symmetric: bool | None = None,
) -> LowerBound:
    """Delsarte's bound with F = g* M g, g = (e^{i a.t})_{a in V u {0}}, M >= 0 (module docstring):
    maximise F(0) = 1'M1 subject to tr M = F_0 = 1 and sum_{a-b=u} M_ab = 0 for u not in V u {0}.

    The solver's M is made rigorous: F~ = F - sum_bad r_u e^{iu.t} + delta with residuals r_u and
    delta = |A| max(0, -lambda_min(M)) + sum |r_u| + SDP_PAD satisfies F~ >= 0 (F >= lambda_min
    |g|^2 = lambda_min |A|) and has spectrum in V u {0}; the bound is F~(0) / F~_0, rounded up
    after subtracting SDP_PAD (N is an integer). This holds for any symmetric M, so an answer the
    solver reports OPTIMAL_INACCURATE is used too, labelled in `method` and `solver_status`.
    `solver_options` go to the solver (default: none, the solver's own tolerances).

    symmetric (default: k > SDP_FULL_MAX_K): solve the program reduced by its symmetry S_k x {+-1}
    (constructions.convex.delsarte: a few small blocks instead of one (n, n) matrix) and rebuild
    the invariant M from the blocks; the bound is then computed from that M by the same
    delsarte_ratio, so the reduction is not trusted. Unreduced only for k <= 3."""
    k = validate_k(k)
    if k > SDP_MAX_K:
        raise FourierCircuitsError(f"sdp_lower_bound: k={k} > {SDP_MAX_K} is too large here")
    if symmetric is None:
        symmetric = k > SDP_FULL_MAX_K
    if symmetric:
        return _symmetric_lower_bound(k, solver, solver_options)
    if k > 3:
        raise FourierCircuitsError(f"sdp_lower_bound: k={k} unreduced does not fit; symmetric=True")
    n, bad = _outside_entries(k)
    M = cp.Variable((n, n), symmetric=True)
    flat = cp.vec(M, order="C")
    cons = [M >> 0, cp.trace(M) == 1] + [cp.sum(flat[idx]) == 0 for idx in bad]
    problem = cp.Problem(cp.Maximize(cp.sum(M)), cons)
    what = f"sdp_lower_bound(k={k})"
    options = {solver: dict(solver_options or {})}
    info = solve(problem, (solver,), what=what, options=options, allow_inaccurate=True)
    if M.value is None or not np.all(np.isfinite(M.value)):
        raise FourierCircuitsError(f"{what}: {solver} returned {info.status} without a usable M")
    raw = delsarte_ratio(M.value, k)
    method = f"Delsarte SDP over V u {{0}} ({solver})"
    if info.inaccurate:
        method += f", solver status {info.status}: bound recomputed from the post-processed F"
    return LowerBound(k, math.ceil(raw - SDP_PAD), method, raw, info.status)


def _symmetric_lower_bound(
    k: int, solver: str, solver_options: Mapping[str, Any] | None
) -> LowerBound:
    """sdp_lower_bound through constructions.convex.delsarte.symmetric_sdp, made rigorous by
    delsarte_ratio on the rebuilt full M."""
    from fourier_circuits.constructions.convex.delsarte import symmetric_sdp

    V = set(unwanted_characters(k))
    A = np.array([(0,) * k, *sorted(V)], dtype=np.int64)  # the index order of _outside_entries
    found = symmetric_sdp(A, V, solver=solver, solver_options=dict(solver_options or {}))
    raw = delsarte_ratio(found.M, k)
    sizes = ", ".join(f"{m}x{m}" + (f" (x{d})" if d > 1 else "") for m, d in found.blocks)
    method = (
        f"Delsarte SDP over V u {{0}}, reduced by S_{k} x {{+-1}} to blocks {sizes} "
        f"({found.solver}, {found.seconds:.1f} s); "
        "bound from the rebuilt full M"
    )
    if found.inaccurate:
        method += f", solver status {found.status}: bound recomputed from the post-processed F"
    return LowerBound(k, math.ceil(raw - SDP_PAD), method, raw, found.status)


def _outside_groups(k: int) -> tuple[int, IntArray, IntArray]:
    """n = |V u {0}|, the flat indices i n + j of the entries of M with a_i - a_j = u outside
    V u {0} (a_0 = 0, then V sorted), and the number of that u (0, 1, ...) for each: the entries
    that make up F's coefficient F_u. Vectorised: each difference vector is coded as one integer
    in base 2 max|a| + 1 (k = 5: n^2 = 5.3 million)."""
    V = set(unwanted_characters(k))
    A = np.array([(0,) * k, *sorted(V)], dtype=np.int64)
    n = len(A)
    half = 2 * int(np.abs(A).max())  # differences lie in [-half, half]^k
    weights = (2 * half + 1) ** np.arange(k)
    codes = ((A[:, None, :] - A[None, :, :]).reshape(n * n, k) + half) @ weights  # (n^2,)
    flat = np.flatnonzero(~np.isin(codes, (A + half) @ weights))  # A = V u {0}
    _, which = np.unique(codes[flat], return_inverse=True)
    return n, flat, which


def _outside_entries(k: int) -> tuple[int, list[IntArray]]:
    """n and, per u outside V u {0}, its flat indices (_outside_groups, grouped)."""
    n, flat, which = _outside_groups(k)
    order = np.argsort(which, kind="stable")
    starts = np.searchsorted(which[order], np.arange(1, int(which.max()) + 1))
    return n, np.split(flat[order], starts)


def delsarte_ratio(M: FloatArray, k: int) -> float:
    """F~(0) / F~_0 for F = g* M g made exactly feasible (sdp_lower_bound), for any (n, n) M:
    M symmetrised, the coefficients r_u outside V u {0} subtracted, and delta = n max(0,
    -lambda_min) + sum |r_u| + SDP_PAD added, so F~ >= SDP_PAD > 0 with spectrum in V u {0}."""
    n, flat, which = _outside_groups(validate_k(k))
    if np.shape(M) != (n, n) or not np.all(np.isfinite(M)):
        raise FourierCircuitsError(f"M must be a finite ({n}, {n}) matrix for k={k}")
    Mv = (M + M.T) / 2
    lam = float(scipy.linalg.eigvalsh(Mv, subset_by_index=[0, 0])[0])  # LAPACK, the smallest only
    residuals = np.bincount(which, weights=Mv.ravel()[flat])  # r_u, one per u outside
    delta = n * max(0.0, -lam) + float(np.abs(residuals).sum()) + SDP_PAD
    f0 = float(Mv.sum()) - float(residuals.sum()) + delta
    return f0 / (float(np.trace(Mv)) + delta)


# --- searching for designs -------------------------------------------------------------------
def character_rows(k: int, L: int, p: int | None = None) -> tuple[FloatArray, IntArray]:
    """Linear conditions rows @ w = 0 on weights w over the grid Z_L^k (phases 2 pi x / L).

    p None (or p without aliasing, frequency_collisions): Re and Im of mu^(v) for one v of each
    pair +-v of unwanted characters. p with aliasing (at frequency zeta = 1): the terms (n, s) of
    the expansion whose DFT frequencies (n, s) mod p coincide add up, so only
    sum_{(n,s) in class} A(n,s) mu^(n + s 1) = 0 per class is needed (docs/min-width.md:
    classes never mix frequencies, and the wanted class receives only the wanted term).
    Returns rows (r, L^k) and the grid X (L^k, k). Refused (theory.budget) when the rows, one
    complex and two real per unwanted character over L^k points (8 x 4 bytes a character and
    point), would not fit in memory."""
    k = validate_k(k)
    L = check_int("L", L, min_value=1)
    if budget.power_exceeds(L, k, 2**40):
        raise FourierCircuitsError(
            f"the grid Z_L^k has L^k = {budget.magnitude(k * math.log10(L))} points at L={L}, "
            f"k={k}: more than the limit 2^40"
        )
    budget.require_memory(
        f"the character rows on the grid Z_{L}^{k} ({L**k} points)",
        8 * 4 * (len(unwanted_characters(k)) + 1) * L**k,
        fix="choose a smaller L or k",
    )
    X = np.array(list(itertools.product(range(L), repeat=k)), dtype=np.int64)
    coef: dict[tuple[int, ...], FloatArray] = {}
    if p is None:  # mu^(-v) = conj(mu^(v)): one of each pair +-v suffices
        for u in unwanted_characters(k):
            if u > tuple(-c for c in u):
                coef[u] = np.exp(2j * np.pi * (X @ np.array(u)) / L)
    else:
        for (n, s), a in _expansion(k).items():
            v = np.array(n) + s
            if v.any():  # the wanted class receives only v = 0 terms (docs/min-width.md)
                cls = tuple(int(c) % p for c in (*n, s))
                term = float(a) * np.exp(2j * np.pi * (X @ v) / L)
                coef[cls] = coef.get(cls, 0) + term
    rows = []
    for z in coef.values():
        rows += [z.real, z.imag]
    R = np.array(rows)
    R[np.abs(R) < 1e-12] = 0.0
    keep = np.abs(R).max(axis=1) > 0
    return R[keep], X


@dataclass(frozen=True)
class DesignSearch:
    """A HiGHS MILP: minimise the support of w >= 0 on Z_L^k, sum w = 1, character rows = 0.

    status is HiGHS's own ("Optimal", "Infeasible", "Time limit reached"); outcome says what it
    means here, and proved_optimal is True only when no design on the grid has fewer points."""

    k: int
    L: int
    p: int | None
    status: str
    size: int | None  # support of the best design found (None: none found)
    dual_bound: float  # no design on this grid has fewer points
    points: tuple[tuple[int, ...], ...]
    weights: tuple[float, ...]
    seconds: float
    outcome: str  # "optimal (proved) ...", "infeasible ...", "...: best found, not proved optimal"
    proved_optimal: bool


def search_design(
    k: int, L: int, *, p: int | None = None, time_limit: float = 30.0, max_size: int | None = None
) -> DesignSearch:
    """Smallest-support weighted design on the grid Z_L^k (one point fixed at 0: designs may be
    shifted, mu^(v) only changes by a phase). Binary z_x >= w_x marks the support.

    Solved by solvers.solve_milp, which accepts besides an optimum only a proved infeasibility (no
    design, or none with at most max_size points) and a stop at time_limit, labelled as such: "best
    found, not proved optimal" or "no design found within the limit"; other statuses raise."""
    R, X = character_rows(k, L, p)
    n = len(X)
    inf = math.inf
    eye = sp.identity(n, format="csr")
    blocks = [
        [sp.csr_array(R), None],  # character rows: = 0
        [sp.csr_array(np.ones((1, n))), None],  # sum w = 1
        [eye, -eye],  # w_i - z_i <= 0
    ]
    lower = [np.zeros(len(R)), np.ones(1), np.full(n, -inf)]
    upper = [np.zeros(len(R)), np.ones(1), np.zeros(n)]
    if max_size is not None:
        blocks.append([None, sp.csr_array(np.ones((1, n)))])
        lower.append(np.full(1, -inf))
        upper.append(np.full(1, float(max_size)))
    col_upper = np.ones(2 * n)
    col_lower = np.zeros(2 * n)
    col_lower[n] = 1.0  # z of the point 0: it is in the support
    found = solve_milp(
        np.r_[np.zeros(n), np.ones(n)],  # minimise sum z (w (n), then z (n))
        sp.csr_array(sp.bmat(blocks, format="csr")),
        np.concatenate(lower),
        np.concatenate(upper),
        col_lower,
        col_upper,
        np.arange(n, 2 * n),
        time_limit=time_limit,
        what=f"design search (k={k}, L={L}, p={p})",
        accept=(INFEASIBLE, LIMIT_FEASIBLE, LIMIT_NONE),
    )
    w = found.x[:n] if found.x is not None else np.zeros(n)
    support = np.flatnonzero(w > 1e-9)
    size = len(support) if len(support) else None
    # the objective is an integer: HiGHS's "Optimal" (gap <= mip_rel_gap) proves it once the dual
    # bound rounds up to it
    proved = found.outcome == OPTIMAL and size is not None
    proved = proved and math.ceil(found.dual_bound - 1e-6) >= (size or 0)
    if proved:
        outcome = "optimal (proved): no design on this grid has fewer points"
    elif found.outcome == INFEASIBLE:
        cap = "" if max_size is None else f" with at most {max_size} points"
        outcome = f"infeasible: no design on this grid{cap}"
    elif size is None:
        outcome = f"{found.status}: no design found within the limit"
    else:
        outcome = (
            f"{found.status}: best found ({size} points), not proved optimal "
            f"(dual bound {found.dual_bound:.6g})"
        )
    return DesignSearch(
        k=k,
        L=L,
        p=p,
        status=found.status,
        size=size,
        dual_bound=found.dual_bound,
        points=tuple(tuple(int(c) for c in X[i]) for i in support),
        weights=tuple(float(w[i]) for i in support),
        seconds=found.seconds,
        outcome=outcome,
        proved_optimal=proved,
    )


def weighted_network(p: int, design: PhaseDesign, weights: FloatArray | None = None) -> PolyNet:
    """The network of a weighted design: neuron (zeta, phi_i) is the unit neuron u_j = beta cos(
    phi_j + 2 pi zeta a/p), w = beta cos(sum phi + 2 pi zeta c/p) scaled by w_i^(1/(k+1)), so it
    adds w_i f_i to the logits and w_i to sum ||theta_i||^(k+1) ((k+1)-homogeneity). Repeated
    points of a multiset design are merged into one neuron carrying their multiplicity."""
    task = Task(p, design.k)
    require_network(design.size * ((task.p - 1) // 2), task.k, task.p, what="weighted_network")
    merged: dict[tuple[int, ...], float] = {}
    ws = np.ones(design.size) if weights is None else np.asarray(weights, dtype=float)
    if ws.shape != (design.size,) or not np.all(ws > 0):
        raise FourierCircuitsError(f"weights must be {design.size} positive numbers")
    for pt, wi in zip(design.points, ws, strict=True):
        merged[pt] = merged.get(pt, 0.0) + float(wi)
    pts = np.array(list(merged), dtype=np.int64)
    w = np.array(list(merged.values()))
    phi = 2 * np.pi * pts / design.N  # (n, k)
    zetas = task.frequencies
    angle = 2 * np.pi * np.outer(zetas, np.arange(task.p)) / task.p  # (Z, p)
    U = np.cos(phi[None, :, :, None] + angle[:, None, None, :])  # (Z, n, k, p)
    Wout = np.cos(phi.sum(axis=1)[None, :, None] + angle[:, None, :])  # (Z, n, p)
    r = beta(task.p, task.k) * np.tile(w, len(zetas)) ** (1.0 / (task.k + 1))  # (m,)
    m = len(zetas) * len(w)
    return PolyNet(
        r[:, None, None] * U.reshape(m, task.k, task.p),
        r[:, None] * Wout.reshape(m, task.p),
        {
            "made_by": "fourier_circuits.constructions.min_width.weighted_network",
            "design": design.name,
        },
    )


def frequency_collisions(p: int, k: int) -> tuple[int, int]:
    """(cross, within): the pairs of distinct expansion terms (zeta, n, s) != (zeta', n', s'),
    zeta, zeta' in 1..(p-1)/2, whose DFT frequencies zeta (n, s), zeta' (n', s') in Z_p^(k+1)
    coincide, counted across different frequencies and within one. The last coordinate s zeta
    = s' zeta' mod p forces zeta = zeta' (zeta + zeta' < p), so cross = 0 for every odd p;
    within > 0 needs zeta (n - n') = 0 mod p with 0 < |n_j - n'_j| <= 2k: p <= 2k - 1 for prime
    p (not always then: none for k = 2, p = 3), or gcd(zeta, p) > 1 for composite p."""
    task = Task(p, validate_k(k))
    terms = [(n, s) for n, s in _expansion(task.k)]
    # one dictionary entry (a tuple of k+1 ints and a list: about 400 bytes) and k+1 Python
    # steps per frequency and term
    h = (task.p - 1) // 2
    quantity = (
        f"frequency_collisions(p={task.p}, k={task.k}) ({h} frequencies x {len(terms)} terms)"
    )
    budget.require_steps(quantity, h * len(terms) * (task.k + 2), fix="choose a smaller p")
    budget.require_memory(quantity, 400 * h * len(terms), fix="choose a smaller p")
    seen: dict[tuple[int, ...], list[int]] = {}
    for zeta in task.frequencies.tolist():
        for n, s in terms:
            key = tuple(zeta * c % task.p for c in (*n, s))
            seen.setdefault(key, []).append(zeta)
    cross = within = 0
    for zs in seen.values():
        for a, b in itertools.combinations(zs, 2):
            cross += a != b
            within += a == b
    return cross, within
