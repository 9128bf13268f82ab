"""Upper bounds on gamma* (arXiv 2402.09469): weak duality with a distribution over pairs.

For any distribution Q over the pairs (a, c != y) and any network of norm <= 1 with unit neurons
phi_i and shares lambda_i (sum 1), h(theta) = min_pairs sum_i lambda_i g(phi_i) <= E_Q[sum_i
lambda_i g(phi_i)] <= F(Q) = max_{||phi|| = 1} E_Q[g(phi)]. So every F(Q) bounds gamma* from above.
Here Q(a, c) = q(y - c) / p^k for a distribution q over d in 1..p-1 (a shift-invariant Q).

- symmetric_q_bound: the exact value of F for such Q (docs/convex.md derives the lemma):
      F(q) = 2 k! / ((2k+2)^((k+1)/2) p^((k+1)/2))
             * max_{f != 0} |1 - sum_d q(d) e^{-2 pi i f d/p}|;
- sdp_certificate / certify_sdp (k = 2): a block-matrix (SOS) certificate that F(q) <= c_2 t,
  found by SCS, then made rigorous by rebuilding the matrix from its structure and adding the
  minimum-eigenvalue deficit to t. Uses no Fourier analysis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cvxpy as cp
import numpy as np

import fourier_circuits.theory.budget as budget
from fourier_circuits.constructions.convex.pricing import symmetric_multiplier
from fourier_circuits.constructions.convex.solvers import (
    SDP_SOLVERS,
    SOCP_SOLVERS,
    SolveInfo,
    solve,
)
from fourier_circuits.theory import FloatArray, FourierCircuitsError, Task, all_inputs, labels

#: Relative slack added to bounds computed in float64 from O(p) terms (rounding ~ p * 1.1e-16).
FLOAT_RTOL = 1e-12


@dataclass(frozen=True)
class Bound:
    """An upper bound on gamma*: its value, how it was obtained, whether it is rigorous."""

    value: float
    method: str
    rigorous: bool
    detail: str = ""


def project_to_simplex(q: FloatArray) -> FloatArray:
    """Clip at 0 and normalise: any distribution gives a valid bound, so this loses no rigour."""
    v = np.clip(np.asarray(q, dtype=np.float64).reshape(-1), 0.0, None)
    if not np.all(np.isfinite(v)) or v.sum() <= 0:
        raise FourierCircuitsError("q must have a positive finite entry to define a distribution")
    return v / v.sum()


def lemma_constant(p: int, k: int) -> float:
    """2 k! / ((2k+2)^((k+1)/2) p^((k+1)/2)): the maximum over unit neurons of
    (k! / p^(k+1)) sum_{j != 0} |A_j| (Hoelder, Plancherel, AM-GM; docs/convex.md); in
    logarithms (lgamma) where k! or the powers do not fit in a float64."""
    try:
        return 2 * math.factorial(k) / ((2 * k + 2) ** ((k + 1) / 2) * float(p) ** ((k + 1) / 2))
    except OverflowError:
        log_value = (
            math.log(2) + math.lgamma(k + 1) - (k + 1) / 2 * (math.log(2 * k + 2) + math.log(p))
        )
        return math.exp(log_value)  # 0.0 on underflow, inf (refused by callers) on overflow


def symmetric_q_bound(q: FloatArray, p: int, k: int) -> Bound:
    """F(q) for the shift-invariant Q(a, c) = q(y - c) / p^k, q: (p-1,) over d = 1..p-1; exact
    by the symmetric-q lemma (docs/convex.md), rigorous up to FLOAT_RTOL."""
    task = Task(p, k)
    qv = project_to_simplex(q)
    if qv.shape != (task.p - 1,):
        raise FourierCircuitsError(f"q has shape {qv.shape}; it must be ({task.p - 1},)")
    Q = symmetric_multiplier(qv, task.p)
    value = lemma_constant(task.p, task.k) * float(np.abs(Q[1:]).max()) * (1 + FLOAT_RTOL)
    return Bound(value, "symmetric-q exact form (lemma)", True)


def optimal_symmetric_q(p: int, k: int) -> tuple[FloatArray, SolveInfo]:
    """argmin over distributions q on 1..p-1 of max_{f != 0} |Q_f| (an SOCP); the minimiser is
    not assumed (the uniform q is optimal for prime p, which this checks rather than uses)."""
    task = Task(p, k)
    p = task.p
    h = (p - 1) // 2
    # dense cosines and sines (h, p-1), cvxpy's canonical copies of them; an interior point method
    # of about 50 iterations on a KKT system of (p - 1) + 3 h unknowns
    budget.require(
        f"the symmetric-q SOCP at p={p} ({h} cones over {p - 1} variables)",
        nbytes=8 * 20 * h * (p - 1),
        flop=50 * float(p - 1 + 3 * h) ** 3,
        fix="choose a smaller p",
    )
    d = np.arange(1, p)
    f = np.arange(1, (p - 1) // 2 + 1)[:, None]
    cos = np.cos(2 * np.pi * f * d / p)  # (h, p-1); Q_f = sum_d q(d) (1 - e^{2 pi i f d/p})
    sin = np.sin(2 * np.pi * f * d / p)
    q = cp.Variable(p - 1, nonneg=True)
    s = cp.Variable()
    cons = [cp.sum(q) == 1]
    for i in range(f.shape[0]):
        re = 1 - cos[i] @ q
        im = sin[i] @ q
        cons.append(cp.SOC(s, cp.hstack([re, im])))
    problem = cp.Problem(cp.Minimize(s), cons)
    info = solve(problem, SOCP_SOLVERS, what=f"symmetric-q SOCP (p={p})")
    return project_to_simplex(np.asarray(q.value)), info


# --- the k = 2 SDP certificate -----------------------------------------------------------------


def _sdp_data(p: int) -> tuple[FloatArray, list[FloatArray], list[FloatArray]]:
    """E: (p^2, 2p) rows e_a (z(a) = e_a . x, x = (u_1, u_2)); for each c the matrices T_c
    (p^2, p-1), o_c (p^2,) with r_c = T_c q + o_c the weight of z(a)^2 in the coefficient
    Y_c = E^T diag(r_c) E / p^2 of w_c in P_q(x, w) = E_Q[z(a)^2 (w(y) - w(c))]."""
    task = Task(p, 2)
    a = all_inputs(task)
    y = labels(a, p)
    E = np.zeros((p * p, 2 * p))
    E[np.arange(p * p), a[:, 0]] = 1.0
    E[np.arange(p * p), p + a[:, 1]] = 1.0
    T, o = [], []
    for c in range(p):
        dd = (y - c) % p
        Tc = np.zeros((p * p, p - 1))
        rows = np.nonzero(dd)[0]
        Tc[rows, dd[rows] - 1] = -1.0  # -q(y - c) for the wrong label c
        T.append(Tc)
        o.append((dd == 0).astype(np.float64))  # + sum_d q(d) = 1 when c = y
    return E, T, o


def _Y(q: FloatArray, p: int) -> list[FloatArray]:
    E, T, o = _sdp_data(p)
    return [E.T @ ((Tc @ q + oc)[:, None] * E) / p**2 for Tc, oc in zip(T, o, strict=True)]


def c_k(k: int) -> float:
    """max over omega in [0, 1] of omega (1 - omega^2)^(k/2) = (k/(k+1))^(k/2) (k+1)^(-1/2)."""
    return (k / (k + 1)) ** (k / 2) / math.sqrt(k + 1)


@dataclass(frozen=True)
class SdpCertificate:
    """A candidate certificate for k = 2: q (p-1,), t, M (n, n), n = 2p (p+1). Claim: M >= 0,
    M's diagonal blocks are t I, its blocks (0, c) are -Y_c(q) plus antisymmetric, its blocks
    (c, c') antisymmetric; then P_q(x, w) <= t for unit x, w and gamma* <= c_2 t."""

    p: int
    q: FloatArray
    t: float
    M: FloatArray
    info: SolveInfo


def sdp_certificate(p: int) -> SdpCertificate:
    """Solve min t over q and M jointly (SCS, falling back to Clarabel); refused when the PSD
    matrix M (n, n), n = 2p (p+1), would not fit or the solve would not finish (theory.budget:
    about 30 x 8 n^2 bytes for M, its dual and cvxpy's canonical form; 1e5 n^3 flop, SCS's
    eigendecompositions over up to 10^4 iterations)."""
    task = Task(p, 2)
    p = task.p
    b = 2 * p
    n = b * (p + 1)
    budget.require(
        f"the k=2 SDP certificate at p={p} (PSD dimension {n})",
        nbytes=30 * 8 * n * n,
        flop=1e5 * float(n) ** 3,
        fix="choose a smaller p",
    )
    E, T, o = _sdp_data(p)
    q = cp.Variable(p - 1, nonneg=True)
    t = cp.Variable()
    M = cp.Variable((n, n), PSD=True)

    def blk(i: int, j: int) -> cp.Expression:
        return M[i * b : (i + 1) * b, j * b : (j + 1) * b]

    eye = np.eye(b)
    cons = [cp.sum(q) == 1]
    for i in range(p + 1):
        cons.append(blk(i, i) == t * eye)
    for c in range(p):
        Yc = E.T @ cp.diag(T[c] @ q + o[c]) @ E / p**2
        # v^T M v with v = (x, w_0 x, ..., w_{p-1} x): the cross term is 2 w_c x^T M_0c x
        cons.append(blk(0, c + 1) + blk(0, c + 1).T == -2 * Yc)
        for c2 in range(c + 1, p):
            cons.append(blk(c + 1, c2 + 1) + blk(c + 1, c2 + 1).T == 0)
    problem = cp.Problem(cp.Minimize(t), cons)
    info = solve(problem, SDP_SOLVERS, what=f"k=2 SDP certificate (p={p}, PSD dimension {n})")
    return SdpCertificate(
        p,
        np.asarray(q.value, dtype=np.float64),
        float(np.asarray(t.value)),
        np.asarray(M.value),
        info,
    )


@dataclass(frozen=True)
class CertifiedBound:
    """The rigorous bound from a candidate certificate: bound = c_2 (t + deficit).

    min_eigenvalue: of the rebuilt matrix; coefficient_residual: the largest entry changed when
    rebuilding it from its structure; deficit: what t had to grow by (eigenvalue deficit plus
    the rounding allowance)."""

    bound: Bound
    claimed: float
    min_eigenvalue: float
    coefficient_residual: float
    deficit: float

    def accepts(self, *, rtol: float = 1e-6) -> bool:
        """The candidate's own claim c_2 t survives the post-processing to within rtol."""
        return bool(self.bound.value <= self.claimed * (1 + rtol))


def certify_sdp(cert: SdpCertificate) -> CertifiedBound:
    """Rigorous post-processing: q projected to the simplex, M symmetrised and its blocks reset to
    the structure (diagonal t I, (0, c): -Y_c(q) + antisymmetric part, (c, c'): antisymmetric
    part), then M + delta I >= 0 with delta = max(0, -lambda_min) + n eps ||M|| (eigvalsh's
    backward error), so t + delta is a valid certificate value."""
    p = cert.p
    b = 2 * p
    n = b * (p + 1)
    if cert.M.shape != (n, n) or not np.all(np.isfinite(cert.M)) or not math.isfinite(cert.t):
        raise FourierCircuitsError(f"SDP certificate: M must be a finite ({n}, {n}) matrix")
    q = project_to_simplex(cert.q)
    M = (cert.M + cert.M.T) / 2
    R = M.copy()
    Y = _Y(q, p)
    for i in range(p + 1):
        R[i * b : (i + 1) * b, i * b : (i + 1) * b] = cert.t * np.eye(b)
        for j in range(i + 1, p + 1):
            A = M[i * b : (i + 1) * b, j * b : (j + 1) * b]
            K = (A - A.T) / 2  # x^T K x = 0 for antisymmetric K
            block = K - Y[j - 1] if i == 0 else K
            R[i * b : (i + 1) * b, j * b : (j + 1) * b] = block
            R[j * b : (j + 1) * b, i * b : (i + 1) * b] = block.T
    residual = float(np.abs(R - M).max())
    lam_min = float(np.linalg.eigvalsh(R)[0])
    rounding = n * np.finfo(np.float64).eps * float(np.linalg.norm(R, 2)) * 10
    deficit = max(0.0, -lam_min) + rounding
    value = c_k(2) * (cert.t + deficit) * (1 + FLOAT_RTOL)
    bound = Bound(
        value,
        "SDP block-matrix certificate (k=2), post-processed",
        True,
        f"{cert.info.solver} {cert.info.status}, PSD dimension {n}",
    )
    return CertifiedBound(bound, c_k(2) * cert.t, lam_min, residual, deficit)
