"""The k = 3 degree-4 SOS certificate: t ||phi||^4 - P_q(phi) is a sum of squares, so the pricing
value F(q) = max_{||phi|| = 1} P_q(phi) is at most L t and gamma* <= F(q) <= L t (weak duality,
certificates.py), with P_q(phi) = E_Q[z(a)^3 (w(y) - w(c))], Q(a, c) = q(y - c) / p^3, and
L = lemma_constant(p, 3) only a unit (it makes t ~ 1; no claim rests on it).

Finding it (symmetry reduction). phi = (u_1, u_2, u_3, w) has n = 4p coordinates; the Gram matrix
over all degree-2 monomials has n (n+1) / 2 rows (990 at p = 11). P_q is invariant under the
shift group Z_p^3 (u_j -> u_j(. + t_j), w -> w(. + sum t)), so an invariant Gram matrix exists
and is block diagonal in the monomials of the unitary DFT Y_b(f) = p^(-1/2) sum_a x_b(a) e^{-2 pi
i f a / p}: the monomial Y_b(f) Y_b'(g) carries the character f e_b + g e_b' of Z_p^3 (e_w =
(1, 1, 1)), and the Hermitian SOS sum_chi m_chi^H H_chi m_chi has one block per character (chi
and -chi give conjugate blocks, so one of each pair is kept). Largest block 2p + 8 (chi = 0).
In these variables ||phi||^2 = sum Y_b(f) Y_b(-f) and, by the Fourier form of the shift-averaged
margin (pricing.py), P_q / L = 32 sum_{j != 0} Q_j Y_w(-j) Y_1(j) Y_2(j) Y_3(j), linear in q, so q
can be a variable (the default) or fixed (labelled).

Checking it (rigorous, no Fourier analysis). certify_sos rebuilds the real Gram matrix
G = Re(sum_chi T_chi^H H_chi T_chi) over the real monomials x_r x_s (r <= s), computes P_q's
coefficients by brute force over D_p from the definition, moves the coefficient residual into G
(one entry per monomial; the largest change is reported), and raises t by the minimum-eigenvalue
deficit: v^T G v >= lambda_min ||v||^2 and ||v||^2 = sum_{r<=s} x_r^2 x_s^2 <= ||x||^4. What
rounding remains in the coefficients is bounded by its l1 norm (|x^mu| <= ||x||^4) and added too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cvxpy as cp
import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

import fourier_circuits.theory.budget as budget
from fourier_circuits.constructions.convex.certificates import (
    FLOAT_RTOL,
    Bound,
    CertifiedBound,
    lemma_constant,
    project_to_simplex,
)
from fourier_circuits.constructions.convex.solvers import SDP_SOLVERS, SolveInfo, solve
from fourier_circuits.theory import FloatArray, FourierCircuitsError, Task, all_inputs, labels

IntArray = npt.NDArray[np.int64]
ComplexArray = npt.NDArray[np.complex128]

#: P_q / L = SCALE sum_j Q_j Y_w(-j) prod_i Y_i(j): (3! / p^4) p^2 / (3 / (16 p^2)) = 32.
SCALE = 32.0


def _key(idx: IntArray, n: int) -> IntArray:
    """Code of the degree-4 monomial with variable indices idx (..., 4), order ignored."""
    s = np.sort(idx, axis=-1)
    return ((s[..., 0] * n + s[..., 1]) * n + s[..., 2]) * n + s[..., 3]


def _character(var: IntArray, p: int) -> IntArray:
    """Character (..., 3) in Z_p^3 of the Fourier variable var = b p + f (b = 3 is w)."""
    b, f = var // p, var % p
    chi = np.zeros((*var.shape, 3), dtype=np.int64)
    for j in range(3):
        chi[..., j] = np.where((b == j) | (b == 3), f, 0)
    return chi


@dataclass(frozen=True)
class _Blocks:
    """The degree-2 Fourier monomials grouped by character (one of each pair chi, -chi):
    blocks[i]: (s_i, 2) variable indices b p + f of the monomials of block i."""

    p: int
    blocks: list[IntArray]


def _blocks(p: int) -> _Blocks:
    n = 4 * p
    i, j = np.triu_indices(n)
    pairs = np.stack([i, j], axis=1).astype(np.int64)
    chi = (_character(pairs[:, 0], p) + _character(pairs[:, 1], p)) % p
    code = (chi[:, 0] * p + chi[:, 1]) * p + chi[:, 2]
    neg = (((-chi[:, 0]) % p * p + (-chi[:, 1]) % p) * p) + (-chi[:, 2]) % p
    keep = code <= neg  # one representative of each conjugate pair
    order = np.argsort(code[keep], kind="stable")
    codes, pairs = code[keep][order], pairs[keep][order]
    cuts = np.nonzero(np.diff(codes))[0] + 1
    return _Blocks(p, np.split(pairs, cuts))


def _negate(var: IntArray, p: int) -> IntArray:
    return (var // p) * p + (-(var % p)) % p


def _target_fourier(p: int) -> tuple[dict[int, complex], dict[int, ComplexArray]]:
    """Coefficients, in the Y variables, of ||phi||^4 (key -> value) and of P_q / L as a linear
    function of q (key -> (p-1,) complex vector: coefficient = vector . q)."""
    n = 4 * p
    var = np.arange(n)
    neg = _negate(var, p)
    a, b = np.meshgrid(var, var, indexing="ij")
    keys = _key(np.stack([a, neg[a], b, neg[b]], axis=-1), n).ravel()
    uk, counts = np.unique(keys, return_counts=True)
    norm4 = {int(k): complex(c) for k, c in zip(uk, counts, strict=True)}
    d = np.arange(1, p)
    pq: dict[int, ComplexArray] = {}
    for jj in range(1, p):
        key = int(_key(np.array([3 * p + (-jj) % p, jj, p + jj, 2 * p + jj]), n))
        # Q_j = sum_d q(d) (1 - e^{2 pi i j d / p}) (symmetric_multiplier)
        pq[key] = pq.get(key, 0) + SCALE * (1 - np.exp(2j * np.pi * jj * d / p))
    return norm4, pq


@dataclass(frozen=True)
class SosCertificate:
    """A candidate k = 3 certificate: q (p-1,), t (in units of L), Hermitian blocks H_i (one per
    character of _blocks(p)). Claim: t ||phi||^4 - P_q(phi) = sum_i m_i^H H_i m_i, H_i >= 0.
    q_fixed: q was given, not optimised."""

    p: int
    q: FloatArray
    t: float
    H: list[ComplexArray]
    info: SolveInfo
    q_fixed: bool


def require_sos(p: int) -> None:
    """Refuse the k = 3 SOS certificate where it would not fit or finish (theory.budget). n = 4p
    coordinates, g = n (n+1)/2 degree-2 monomials: memory, the quartic coefficients of
    target_coefficients (3 x 8 n^4 bytes) and the real Gram matrix of certify_sos with its
    eigendecomposition (3 x 8 g^2); time, 10 g^3 for that eigendecomposition plus SCS's up to
    10^4 iterations over about 3 p^2 blocks of size <= 2p + 8."""
    n = 4 * p
    g = n * (n + 1) // 2
    budget.require(
        f"the k=3 SOS certificate at p={p} (Gram dimension {g})",
        nbytes=3 * 8 * n**4 + 3 * 8 * g * g,
        flop=10 * float(g) ** 3 + 1e4 * 3 * p * p * float(2 * p + 8) ** 3,
        fix="choose a smaller p",
    )


def sos_certificate(p: int, *, q: FloatArray | None = None) -> SosCertificate:
    """Solve min t over q (or with q fixed) and the PSD blocks (SCS, then Clarabel); refused up
    front by require_sos."""
    task = Task(p, 3)
    p = task.p
    require_sos(p)
    n = 4 * p
    blk = _blocks(p)
    norm4, pq = _target_fourier(p)
    qv = cp.Variable(p - 1, nonneg=True) if q is None else None
    q_fixed = None if q is None else project_to_simplex(q)
    if q_fixed is not None and q_fixed.shape != (p - 1,):
        raise FourierCircuitsError(f"q has shape {q_fixed.shape}; it must be ({p - 1},)")
    t = cp.Variable()
    # every key the Gram blocks reach, in one index space
    block_keys = []
    for pairs in blk.blocks:
        negp = _negate(pairs, p)
        ii, jj = np.meshgrid(np.arange(len(pairs)), np.arange(len(pairs)), indexing="ij")
        block_keys.append(_key(np.concatenate([negp[ii], pairs[jj]], axis=-1), n).ravel())
    all_keys = np.unique(np.concatenate([*block_keys, list(norm4), list(pq)]))
    index = {int(k): i for i, k in enumerate(all_keys)}
    nk = len(all_keys)
    Hs, gram, cons = [], 0, []
    for pairs, keys in zip(blk.blocks, block_keys, strict=True):
        s = len(pairs)
        H = cp.Variable((s, s), hermitian=True)
        rows = np.array([index[int(k)] for k in keys])
        # keys are listed row-major (i, j); cp.vec is column-major, hence the transpose order
        cols = np.arange(s * s).reshape(s, s).T.ravel()
        B = sp.csr_matrix((np.ones(s * s), (rows, cols)), shape=(nk, s * s))
        gram = gram + B @ cp.vec(H, order="F")
        cons.append(H >> 0)
        Hs.append(H)
    n4 = np.zeros(nk, dtype=np.complex128)
    for key, c in norm4.items():
        n4[index[key]] = c
    Pm = np.zeros((nk, p - 1), dtype=np.complex128)
    for key, vec in pq.items():
        Pm[index[key]] = vec
    pq_expr: cp.Expression | ComplexArray = Pm @ qv if qv is not None else Pm @ np.asarray(q_fixed)
    cons.append(gram == t * n4 - pq_expr)
    if qv is not None:
        cons.append(cp.sum(qv) == 1)
    problem = cp.Problem(cp.Minimize(t), cons)
    sizes = [len(b) for b in blk.blocks]
    info = solve(
        problem,
        SDP_SOLVERS,
        what=f"k=3 SOS certificate (p={p}, {len(sizes)} blocks, largest {max(sizes)})",
    )
    q_out = np.asarray(qv.value, dtype=np.float64) if qv is not None else q_fixed
    assert q_out is not None
    return SosCertificate(
        p,
        q_out,
        float(np.asarray(t.value)),
        [np.asarray(H.value, dtype=np.complex128) for H in Hs],
        info,
        q is not None,
    )


# --- rigorous post-processing ---------------------------------------------------------------


def _real_pairs(n: int) -> IntArray:
    i, j = np.triu_indices(n)
    return np.stack([i, j], axis=1).astype(np.int64)


def _fourier_rows(p: int) -> ComplexArray:
    """F: (4p, 4p) the map x -> Y (unitary DFT on each of the 4 blocks)."""
    a = np.arange(p)
    dft = np.exp(-2j * np.pi * np.outer(a, a) / p) / math.sqrt(p)
    return np.asarray(np.kron(np.eye(4), dft))


def real_gram(cert: SosCertificate) -> FloatArray:
    """G (n_v, n_v) over the real monomials x_r x_s, r <= s, with v^T G v = sum_i m_i^H H_i m_i."""
    p = cert.p
    n = 4 * p
    F = _fourier_rows(p)
    rp = _real_pairs(n)
    diag = rp[:, 0] == rp[:, 1]
    G = np.zeros((len(rp), len(rp)))
    for pairs, H in zip(_blocks(p).blocks, cert.H, strict=True):
        # Y_al Y_be = sum_{r,s} F[al, r] F[be, s] x_r x_s; on r < s both orders add up
        A = F[pairs[:, 0]][:, rp[:, 0]] * F[pairs[:, 1]][:, rp[:, 1]]
        B = F[pairs[:, 0]][:, rp[:, 1]] * F[pairs[:, 1]][:, rp[:, 0]]
        T = np.where(diag[None, :], A, A + B)  # (s, n_v)
        G += np.real(T.conj().T @ ((H + H.conj().T) / 2) @ T)
    return (G + G.T) / 2


def target_coefficients(q: FloatArray, t: float, p: int) -> FloatArray:
    """Dense coefficients (n^4,) of t ||x||^4 - P_q(x) / L in the real variables x; P_q from its
    definition by brute force over D_p: P_q = p^-3 sum_a z(a)^3 (w(y) - sum_d q(d) w(y - d))."""
    task = Task(p, 3)
    n = 4 * p
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    coef = t * np.bincount(_key(np.stack([i, i, j, j], axis=-1), n).ravel(), minlength=n**4)
    a = all_inputs(task)  # (p^3, 3)
    y = labels(a, p)
    r = np.concatenate([[1.0], -project_to_simplex(q)])  # weight of w(y - d), d = 0..p-1
    unit = lemma_constant(p, 3)
    keys, weights = [], []
    for d in range(p):
        wv = 3 * p + (y - d) % p
        for e in np.ndindex(3, 3, 3):  # z^3 = sum over ordered triples of blocks
            idx = np.stack(
                [e[0] * p + a[:, e[0]], e[1] * p + a[:, e[1]], e[2] * p + a[:, e[2]], wv]
            )
            keys.append(_key(idx.T, n))
            weights.append(np.full(len(a), -r[d] / p**3 / unit))
    w_all = np.concatenate(weights)
    out = coef + np.bincount(np.concatenate(keys), weights=w_all, minlength=n**4)
    return np.asarray(out, dtype=np.float64)


def _gram_coefficients(G: FloatArray, rp: IntArray, n: int) -> tuple[FloatArray, IntArray]:
    keys = _key(
        np.concatenate([rp[:, None, :].repeat(len(rp), 1), rp[None].repeat(len(rp), 0)], axis=-1), n
    )
    coef = np.bincount(keys.ravel(), weights=G.ravel(), minlength=n**4)
    return np.asarray(coef, dtype=np.float64), keys


def certify_sos(cert: SosCertificate) -> CertifiedBound:
    """Rigorous bound L (t + deficit) from a candidate (module docstring). q is projected to the
    simplex; the coefficient residual is moved into G; deficit = max(0, -lambda_min(G)) plus
    eigvalsh's rounding allowance plus the l1 norm of what residual remains."""
    p = Task(cert.p, 3).p
    require_sos(p)
    n = 4 * p
    sizes = [len(b) for b in _blocks(p).blocks]
    if (
        len(cert.H) != len(sizes)
        or any(
            H.shape != (s, s) or not np.all(np.isfinite(H))
            for H, s in zip(cert.H, sizes, strict=True)
        )
        or not math.isfinite(cert.t)
    ):
        raise FourierCircuitsError("SOS certificate: blocks must be finite and match _blocks(p)")
    rp = _real_pairs(n)
    G = real_gram(cert)
    target = target_coefficients(cert.q, cert.t, p)
    have, keys = _gram_coefficients(G, rp, n)
    residual = target - have
    # move each monomial's residual onto one Gram entry that reaches it (its first occurrence)
    flat = keys.ravel()
    uk, first = np.unique(flat, return_index=True)
    nz = np.nonzero(residual)[0]
    at = np.searchsorted(uk, nz)
    reached = (at < len(uk)) & (uk[np.minimum(at, len(uk) - 1)] == nz)
    if not np.all(reached):
        raise FourierCircuitsError(
            "SOS certificate: the target has monomials the Gram cannot reach"
        )
    nv = len(rp)
    r_, c_ = np.divmod(first[at], nv)
    R = G.copy()
    # half on (r, c) and half on (c, r); both halves land on (r, r) on the diagonal
    np.add.at(R, (r_, c_), residual[nz] / 2)
    np.add.at(R, (c_, r_), residual[nz] / 2)
    changed = float(np.abs(R - G).max())
    left = float(np.abs(target - _gram_coefficients(R, rp, n)[0]).sum())
    lam_min = float(np.linalg.eigvalsh(R)[0])
    rounding = nv * np.finfo(np.float64).eps * float(np.linalg.norm(R, 2)) * 10
    deficit = max(0.0, -lam_min) + rounding + left
    unit = lemma_constant(p, 3)
    label = "SOS degree-4 certificate (k=3), post-processed"
    label += ", q fixed (given)" if cert.q_fixed else ", q optimised"
    bound = Bound(
        unit * (cert.t + deficit) * (1 + FLOAT_RTOL),
        label,
        True,
        f"{cert.info.solver} {cert.info.status}, {len(sizes)} blocks, largest {max(sizes)}",
    )
    return CertifiedBound(bound, unit * cert.t, lam_min, changed, deficit)
