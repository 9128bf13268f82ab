"""Exact (integer / cyclotomic / sympy) proofs about phase designs (THEORY.md, "Proof outline"
step 3 and "Smaller designs"; App. G of arXiv 2402.09469).

The character argument. For one neuron of a design with phases phi in R^k and phi_w = phi_1 + ...
+ phi_k, expand with cos t = (e^{it} + e^{-it}) / 2 and the multinomial theorem:

    (sum_j cos(phi_j + x_j))^k cos(phi_w + y)
        = sum_{e, n, s} C(e, n) / 2 * e^{i (n.x + s y)} * e^{i v.phi},        v = n + s (1, ..., 1),

over compositions e of k (e_j >= 0, sum e_j = k), n_j in {e_j, e_j - 2, ..., -e_j} and s = +-1, with
C(e, n) = multinomial(k; e) prod_j binom(e_j, (e_j + n_j)/2) / 2^{e_j} > 0. Collect the terms by
(n, s): A(n, s) = sum_e C(e, n) / 2 > 0 is a sum of positive numbers, and the terms with one (n, s)
share both the x-dependence e^{i (n.x + s y)} and the character v. Summing over a design,

    F(x, y) = sum_{(n, s)} A(n, s) * (sum_{phi in design} e^{i v.phi}) * e^{i (n.x + s y)}.

The functions e^{i (n.x + s y)} are linearly independent (distinct characters of the torus),
so F = c cos(x_1 + ... + x_k - y) = (c/2) (e^{i (sum x - y)} + e^{-i (sum x - y)}) for all real
angles iff every coefficient matches. v = 0 only for n = -s (1, ..., 1), which forces
e = (1, ..., 1) (sum |n_j| = k = sum e_j and |n_j| <= e_j); these two wanted terms have
A = k!/2^(k+1) and give c = |design| k!/2^k. Every other (n, s) has v != 0 (an unwanted
character; two (n, s) of opposite s can share one v) and a positive A, so the identity holds iff
sum_{phi in design} e^{i v.phi} = 0 for every unwanted v: 14, 80, 430 characters for k = 2, 3, 4.
For phi = 2 pi point / N that sum is sum_r c_r omega_N^r, c_r the number of points with
v.point = r mod N, and it vanishes iff the N-th cyclotomic polynomial divides sum_r c_r x^r
(Phi_N is the minimal polynomial of omega_N over Q): an exact integer test. At the angles
x_j = 2 pi zeta a_j / p, y = 2 pi zeta c / p it gives proof step 3's sum over one frequency.

A broken phase-sum rule phi_w = sum phi_j + 2 pi o / N multiplies each term by omega_N^(s o): the
unwanted coefficients become sum_phi omega^(v.point + s o), checked for each s that reaches v, and
the wanted part becomes (k!/2^(k+1)) (S e^{i (sum x - y)} + conj(S) e^{-i (sum x - y)}) with
S = sum_phi omega_N^(-o), which equals |design| (the wanted function) iff every o = 0 mod N.

The second, independent route (exact_normalized_margin) never uses this identity: it evaluates the
network of the construction on all of D_p in the cyclotomic ring Z[x]/(x^L - 1), L = lcm(p, N).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import sympy as sp
from numpy.lib.stride_tricks import sliding_window_view

from fourier_circuits.constructions.designs import PhaseDesign, get_design
from fourier_circuits.theory import (
    FourierCircuitsError,
    IntArray,
    Task,
    all_inputs,
    gamma_star_exact,
    labels,
    validate_k,
    validate_p,
)

#: Largest number of (character, point) pairs prove_design evaluates (k = 6 paper: 2.6e7).
MAX_CHARACTER_WORK = 10**8
#: Largest estimated number of integer operations exact_normalized_margin agrees to do: about half
#: a minute of numpy work on a 2-core machine ((p, k) = (5, 4), lattice design: 5.4e8 in 4 s).
MAX_MARGIN_WORK = 4 * 10**9
#: Values in int64 work arrays stay below this (checked a priori), so integer sums never overflow.
_INT64_SAFE = 2**62
_x = sp.Symbol("x")


# --- the expansion ---------------------------------------------------------------------------
def _compositions(k: int) -> list[tuple[int, ...]]:
    """All e in Z_{>=0}^k with sum e = k (stars and bars)."""
    out = []
    for bars in itertools.combinations(range(2 * k - 1), k - 1):
        edges = (-1, *bars, 2 * k - 1)
        out.append(tuple(edges[j + 1] - edges[j] - 1 for j in range(k)))
    return out


@functools.lru_cache(maxsize=16)
def _expansion(k: int) -> dict[tuple[tuple[int, ...], int], Fraction]:
    """(n, s) -> A(n, s) = sum_e multinomial(k; e) prod_j binom(e_j, (e_j + n_j)/2) / 2^{e_j} / 2,
    the coefficient of e^{i (n.x + s y)} e^{i (n + s 1).phi} in (sum_j cos(phi_j + x_j))^k
    cos(phi_w + y), from cos^e t = 2^-e sum_l binom(e, l) e^{i (e - 2l) t}."""
    coef: dict[tuple[tuple[int, ...], int], Fraction] = {}
    for e in _compositions(k):
        multinomial = math.factorial(k) // math.prod(math.factorial(ej) for ej in e)
        for ls in itertools.product(*(range(ej + 1) for ej in e)):  # l_j = (e_j - n_j) / 2
            n = tuple(ej - 2 * lj for ej, lj in zip(e, ls, strict=True))
            c = Fraction(
                multinomial * math.prod(math.comb(ej, lj) for ej, lj in zip(e, ls, strict=True))
            )
            c /= 2 ** (k + 1)  # 2^{-sum e_j} from the cosine powers, 1/2 from cos(phi_w + y)
            for s in (1, -1):
                coef[(n, s)] = coef.get((n, s), Fraction(0)) + c
    assert all(c > 0 for c in coef.values())  # the positivity the argument needs
    return coef


def _character(n: tuple[int, ...], s: int) -> tuple[int, ...]:
    return tuple(nj + s for nj in n)


@functools.lru_cache(maxsize=16)
def _unwanted_signs(k: int) -> dict[tuple[int, ...], tuple[int, ...]]:
    """Unwanted character v -> the signs s of the terms (n, s) with n + s 1 = v."""
    signs: dict[tuple[int, ...], set[int]] = {}
    for n, s in _expansion(k):
        v = _character(n, s)
        if any(v):
            signs.setdefault(v, set()).add(s)
    return {v: tuple(sorted(signs[v])) for v in sorted(signs)}


def unwanted_characters(k: int) -> tuple[tuple[int, ...], ...]:
    """The distinct v = n + s (1, ..., 1) != 0 of the expansion (module docstring), sorted.

    THEORY.md ("Smaller designs") counts 14, 80, 430 of them for k = 2, 3, 4.
    """
    return tuple(_unwanted_signs(validate_k(k)))


# --- cyclotomic arithmetic -------------------------------------------------------------------
@functools.lru_cache(maxsize=64)
def _cyclotomic(N: int) -> sp.Poly:
    return sp.Poly(sp.cyclotomic_poly(N, _x), _x, domain="ZZ")


@functools.lru_cache(maxsize=4096)
def _vanishes(N: int, counts: tuple[int, ...]) -> bool:
    """sum_r counts[r] omega_N^r == 0  <=>  Phi_N divides sum_r counts[r] x^r (sympy, exact)."""
    poly = sp.Poly.from_list(list(reversed(counts)), _x, domain="ZZ")
    return bool(poly.rem(_cyclotomic(N)).is_zero)


@functools.lru_cache(maxsize=64)
def _reduction_matrix(L: int) -> IntArray:
    """R: (L, phi(L)) with row r the coefficients of x^r mod Phi_L (ascending), so an element
    sum_r a_r omega_L^r of Z[omega_L] has the canonical coordinates a @ R in 1, omega, ...
    Built by x^(r+1) = x * x^r and x^D = -(Phi_L - x^D), in Python integers."""
    phi = [int(c) for c in reversed(_cyclotomic(L).all_coeffs())]  # ascending, phi[D] = 1
    D = len(phi) - 1
    rows = []
    row = [1] + [0] * (D - 1)
    for _ in range(L + 1):
        rows.append(row)
        top = row[-1]
        row = [0, *row[:-1]]
        row = [a - top * b for a, b in zip(row, phi[:D], strict=True)]
    assert rows[L] == rows[0]  # x^L = 1 modulo Phi_L
    if max(abs(a) for r in rows for a in r) >= 2**31:
        raise FourierCircuitsError(f"the reduction modulo Phi_{L} has coefficients beyond 2^31")
    return np.array(rows[:L], dtype=np.int64)


def _to_sympy(coords: Sequence[int], L: int) -> sp.Expr:
    """The real number sum_t coords[t] omega_L^t, exactly: an Integer when only the constant
    coordinate is non-zero, else sum_t coords[t] cos(2 pi t / L) (its real part; it is real)."""
    if not any(int(c) for c in coords[1:]):
        return sp.Integer(int(coords[0]))
    return sp.Add(*(int(c) * sp.cos(2 * sp.pi * sp.Rational(t, L)) for t, c in enumerate(coords)))


def _histogram(rows: int, exponents: IntArray, L: int) -> IntArray:
    """counts (rows, L) of exponents (rows, q) modulo L: sum_q x^{exponents[r, q]} per row."""
    flat = (np.arange(rows, dtype=np.int64)[:, None] * L + exponents % L).ravel()
    return np.bincount(flat, minlength=rows * L).reshape(rows, L)


# --- the design proof ------------------------------------------------------------------------
def _offsets(design: PhaseDesign, phase_w_offset: int | Sequence[int]) -> IntArray:
    """phi_w - sum_j phi_j in units of 2 pi / N, one per design point, reduced mod N."""
    if isinstance(phase_w_offset, (int, np.integer)) and not isinstance(phase_w_offset, bool):
        return np.full(design.size, int(phase_w_offset) % design.N, dtype=np.int64)
    values = list(phase_w_offset) if isinstance(phase_w_offset, (Sequence, np.ndarray)) else None
    if (
        values is None
        or len(values) != design.size
        or any(isinstance(o, bool) or not isinstance(o, (int, np.integer)) for o in values)
    ):
        raise FourierCircuitsError(
            f"phase_w_offset={phase_w_offset!r} must be an integer or a sequence of "
            f"{design.size} integers (one per point of design {design.name!r}), in units of "
            f"2 pi / N = 2 pi / {design.N}"
        )
    return np.array(values, dtype=np.int64) % design.N


def _require_design(design: object) -> PhaseDesign:
    if not isinstance(design, PhaseDesign):
        raise FourierCircuitsError(
            f"design={design!r} must be a constructions.PhaseDesign (e.g. get_design('paper', k))"
        )
    return design


@dataclass(frozen=True)
class DesignProof:
    """The exact character check of a phase design (module docstring).

    failing: the unwanted characters v whose average over the design is not 0 (empty: all vanish).
    c: sum of the wanted (v = 0) terms' coefficients over the design, read off the multinomial
    expansion; c_expected = |design| k!/2^k. wanted_exact: the wanted part is exactly
    (c_expected/2) (e^{i (sum x - y)} + e^{-i (sum x - y)}) (false when the phase-sum rule is
    broken). holds: the neurons of one frequency sum to c_expected cos(x_1 + ... + x_k - y) for all
    real angles.
    """

    design: str
    k: int
    N: int
    size: int
    n_characters: int
    failing: tuple[tuple[int, ...], ...]
    c: sp.Expr
    c_expected: sp.Rational
    wanted_exact: bool
    phase_rule_broken: bool

    @property
    def holds(self) -> bool:
        return not self.failing and self.wanted_exact and bool(self.c == self.c_expected)


def prove_design(design: PhaseDesign, *, phase_w_offset: int | Sequence[int] = 0) -> DesignProof:
    """Prove (or refute), in exact integer arithmetic, that the design's neurons of one frequency
    sum to |design| k!/2^k cos(x_1 + ... + x_k - y) (THEORY.md "Smaller designs", proof step 3).

    phase_w_offset: o (or one o per point), phi_w = phi_1 + ... + phi_k + 2 pi o / N; a non-zero o
    breaks the phase-sum rule of Theorem 4.1 (ii) (a negative control).
    """
    d = _require_design(design)
    k, N, n = d.k, d.N, d.size
    off = _offsets(d, phase_w_offset)
    broken = bool(off.any())
    signs = _unwanted_signs(k)
    pairs = [(v, s) for v, ss in signs.items() for s in (ss if broken else (0,))]
    if len(pairs) * n > MAX_CHARACTER_WORK:
        raise FourierCircuitsError(
            f"prove_design: design {d.name!r} (k={k}, {n} points) needs {len(pairs)} characters x "
            f"{n} points = {len(pairs) * n:.2e} residues, more than {MAX_CHARACTER_WORK:.0e}"
        )
    V = np.array([v for v, _ in pairs], dtype=np.int64)  # (P, k)
    S = np.array([s for _, s in pairs], dtype=np.int64)  # (P,)
    pts = d.integer_points  # (n, k)
    vanish = np.empty(len(pairs), dtype=bool)
    block = max(1, 2**22 // n)
    for lo in range(0, len(pairs), block):
        hi = min(lo + block, len(pairs))
        # e^{i (v.phi + s o 2pi/N)} = omega_N^(v.point + s o): residues (rows, n)
        residues = V[lo:hi] @ pts.T + S[lo:hi, None] * off[None, :]
        counts = _histogram(hi - lo, residues, N)  # (rows, N)
        verdict: dict[bytes, bool] = {}  # many characters share one count vector
        for i, row in enumerate(counts):
            key = row.tobytes()
            if key not in verdict:
                verdict[key] = _vanishes(N, tuple(row.tolist()))
            vanish[lo + i] = verdict[key]
    failing = tuple(sorted({pairs[i][0] for i in np.flatnonzero(~vanish)}))

    # the wanted terms, v = 0: their phase factor over the design is sum_phi omega_N^(s o)
    coef = _expansion(k)
    c = sp.Integer(0)
    for (nn, s), a in coef.items():
        if any(_character(nn, s)):
            continue
        counts_s = np.bincount((s * off) % N, minlength=N)
        # the two wanted terms are complex conjugates with equal A: their imaginary parts cancel
        phase_sum = sp.Add(
            *(int(cnt) * sp.cos(2 * sp.pi * sp.Rational(r, N)) for r, cnt in enumerate(counts_s))
        )
        c += sp.Rational(a.numerator, a.denominator) * phase_sum
    # S = sum_phi omega^(-o) equals |design| iff Phi_N divides sum_r count_r x^r - |design|
    shifted = np.bincount((-off) % N, minlength=N)
    shifted[0] -= n
    return DesignProof(
        design=d.name,
        k=k,
        N=N,
        size=n,
        n_characters=len(signs),
        failing=failing,
        c=c,
        c_expected=sp.Rational(n * math.factorial(k), 2**k),
        wanted_exact=_vanishes(N, tuple(int(x) for x in shifted)),
        phase_rule_broken=broken,
    )


def expansion_residual(design: PhaseDesign, *, phase_w_offset: int | Sequence[int] = 0) -> sp.Expr:
    """The canonical form of sum_design (sum_j cos(phi_j + x_j))^k cos(phi_w + y)
    - |design| k!/2^k cos(x_1 + ... + x_k - y), by direct trigonometric expansion (independent of
    the character argument): the angle-addition formula with sympy's exact cos, sin at rational
    multiples of pi, then reduction of the polynomial in C_t = cos t, S_t = sin t modulo
    S_t^2 + C_t^2 - 1 (a Groebner basis; the remainder is 0 iff the function is identically 0).
    Only for k <= 3 and small designs (sympy's expansion grows like (k |design|)^k)."""
    d = _require_design(design)
    k = d.k
    if k > 3 or d.size > 64:
        raise FourierCircuitsError(
            f"expansion_residual: design {d.name!r} has k={k}, {d.size} points; the direct "
            "expansion is only for k <= 3 and at most 64 points (use prove_design)"
        )
    off = _offsets(d, phase_w_offset)
    xs = sp.symbols(f"x1:{k + 1}", real=True)
    y = sp.Symbol("y", real=True)
    Cs = sp.symbols(f"C1:{k + 2}")
    Ss = sp.symbols(f"S1:{k + 2}")
    total = sp.Integer(0)
    for pt, o in zip(d.points, off.tolist(), strict=True):
        phi = [2 * sp.pi * sp.Rational(c, d.N) for c in pt]
        phi_w = sp.Add(*phi) + 2 * sp.pi * sp.Rational(o, d.N)
        total += sp.Add(*(sp.cos(f + x) for f, x in zip(phi, xs, strict=True))) ** k * sp.cos(
            phi_w + y
        )
    c = sp.Rational(d.size * math.factorial(k), 2**k)
    expr = sp.expand_trig(total - c * sp.cos(sp.Add(*xs) - y))  # cos(a+b) = cos a cos b - ...
    expr = expr.subs({sp.cos(t): C for t, C in zip((*xs, y), Cs, strict=True)})
    expr = expr.subs({sp.sin(t): S for t, S in zip((*xs, y), Ss, strict=True)})
    pythagoras = [S**2 + C**2 - 1 for S, C in zip(Ss, Cs, strict=True)]
    _, remainder = sp.reduced(sp.expand(expr), pythagoras, *Ss, *Cs, order="lex", extension=True)
    return sp.expand(remainder)


# --- the frequency sum -----------------------------------------------------------------------
def frequency_sums_exact(p: int) -> tuple[sp.Expr, ...]:
    """sum_{zeta=1}^{(p-1)/2} cos(2 pi zeta d / p) for d = 0, ..., p-1, exactly.

    2 cos t = omega^t + omega^-t with omega = e^{2 pi i / p}: each sum is an integer vector in
    Z[x]/(x^p - 1), reduced modulo Phi_p to its canonical coordinates. THEORY.md (erratum 2): the
    values are (p-1)/2 at d = 0 and exactly -1/2 at every d != 0 mod p, for any odd p.
    """
    p = validate_p(p)
    zeta = np.arange(1, (p - 1) // 2 + 1, dtype=np.int64)
    d = np.arange(p, dtype=np.int64)
    exps = np.concatenate([np.outer(d, zeta), -np.outer(d, zeta)], axis=1)  # (p, p-1)
    coords = _histogram(p, exps, p) @ _reduction_matrix(p)  # (p, phi(p)): 2 * the sum
    return tuple(_to_sympy(row.tolist(), p) / 2 for row in coords)


# --- the exact margin of the construction ---------------------------------------------------
@dataclass(frozen=True)
class ExactMargin:
    """The construction's margin over all of D_p in exact arithmetic (exact_normalized_margin).

    margin: h with unscaled weights cos(...) (beta = 1, no m^(-1/(k+1))); norm_power:
    sum_i ||theta_i||^(k+1) of the same weights; normalized_margin = margin / norm_power, which is
    scale-invariant ((k+1)-homogeneity), so the dropped scale does not matter.
    """

    p: int
    k: int
    design: str
    m: int
    logits_rational: bool
    margin: sp.Expr
    norm_power: sp.Expr
    normalized_margin: sp.Expr
    gamma_star: sp.Expr
    equals_gamma_star: bool
    all_on_margin: bool
    wrong_labels_tied: bool

    @property
    def holds(self) -> bool:
        return self.equals_gamma_star and self.all_on_margin and self.wrong_labels_tied


def margin_work(p: int, k: int, design: PhaseDesign) -> int:
    """Estimated integer operations of exact_normalized_margin: the k-th powers ((k-1)
    multiplications by 2k monomials, each L coordinates) for p^k inputs x m neurons, the output
    shifts and the final reduction (p^(k+1) elements of length L times phi(L))."""
    L = math.lcm(p, design.N)
    m = design.size * (p - 1) // 2
    D = _cyclotomic(L).degree()
    return p**k * (m * L * (2 * k * (k - 1) + 2) + (p - 1) * p * L + p * L * D)


def _shift_rows(P: IntArray, shifts: IntArray) -> IntArray:
    """out[r] = x^{shifts[r]} * P[r] in Z[x]/(x^L - 1): out[r, l] = P[r, (l - shifts[r]) mod L].
    One gather of length-L windows of [P, P]."""
    L = P.shape[1]
    windows = sliding_window_view(np.concatenate([P, P], axis=1), L, axis=1)  # (R, L+1, L)
    return windows[np.arange(P.shape[0]), (-shifts) % L]


def _reaches(h: sp.Expr, norm_power: sp.Expr, gamma: sp.Expr) -> bool:
    """h / norm_power == gamma, exactly. The margin that gamma needs, gamma * norm_power, is
    rational when every neuron norm is ((k+1) p / 2)^(1/2) (always, for odd p); then an irrational
    h (non-constant coordinates, hence not an Integer) cannot equal it, and a rational h is compared
    as a Rational. Otherwise sympy decides (a - b).equals(0) (slow, but never needed here)."""
    target = sp.expand(gamma * norm_power)
    if target.is_Rational:
        return bool(h.is_Rational) and bool(h == target)
    return bool((h / norm_power - gamma).equals(0))


def exact_normalized_margin(
    p: int,
    k: int,
    design: str | PhaseDesign = "paper",
    *,
    phase_w_offset: int | Sequence[int] = 0,
) -> ExactMargin:
    """The normalized margin of the design's construction (App. G; constructions.analytic) over
    all of D_p, in exact arithmetic and without the identity of prove_design.

    Neuron (zeta, phi): u_j(a) = cos(phi_j + 2 pi zeta a/p) = (x^r + x^-r)/2 at x = omega_L,
    L = lcm(p, N), r = point_j L/N + zeta a L/p; w(c) likewise with phi_w = sum phi_j (+ 2 pi o/N).
    So 2^(k+1) f(a)[c] = sum_i (sum_j x^{r_j} + x^{-r_j})^k (x^t + x^-t) is an integer vector of
    Z[x]/(x^L - 1), computed for every input and neuron, then reduced modulo Phi_L to canonical
    coordinates: a logit is rational iff only the constant coordinate survives. Neuron norms
    (sum_a cos^2 = p/2) are computed the same way. The scale beta m^(-1/(k+1)) of construct is
    dropped: the normalized margin h / sum_i ||theta_i||^(k+1) is scale-invariant ((k+1)-homogeneity
    of f and of the denominator). Equality with theory.gamma_star_exact is exact.
    Margins and ties are decided on the exact coordinates; only when logits are irrational (a
    broken design) is the largest wrong logit and the smallest margin located with floats.
    """
    task = Task(p, k)
    p, k = task.p, task.k
    d = get_design(design, k) if isinstance(design, str) else _require_design(design)
    if d.k != k:
        raise FourierCircuitsError(f"design {d.name!r} is for k={d.k}, not k={k}")
    off = _offsets(d, phase_w_offset)
    work = margin_work(p, k, d)
    if work > MAX_MARGIN_WORK:
        raise FourierCircuitsError(
            f"exact_normalized_margin(p={p}, k={k}, design={d.name!r}) needs about {work:.2e} "
            f"integer operations (p^k x m x L x ..., L = lcm(p, N) = {math.lcm(p, d.N)}), more "
            f"than the limit {MAX_MARGIN_WORK:.0e} (about half a minute); choose a smaller p or k"
        )
    L = math.lcm(p, d.N)
    gN, gp = L // d.N, L // p
    R = _reduction_matrix(L)  # (L, D)
    D = R.shape[1]
    Z = (p - 1) // 2
    zetas = np.arange(1, Z + 1, dtype=np.int64)
    pts = d.integer_points  # (n, k)
    n = d.size
    m = Z * n
    freq = np.repeat(zetas, n)  # (m,) neuron i = (zeta, point), zeta-major
    base_in = np.tile(pts * gN, (Z, 1))  # (m, k)
    base_out = np.tile((pts.sum(axis=1) + off) * gN, Z)  # (m,) phi_w in units of 2 pi / L
    # a priori bound: 2^(k+1) f(a)[c] is a sum of 2 m (2k)^k monomials x^t (non-negative
    # coordinates in Z[x]/(x^L - 1)), each reduced to coordinates of size <= max |R|
    bound = 2 * m * (2 * k) ** k * int(np.abs(R).max())
    if bound >= _INT64_SAFE:
        raise FourierCircuitsError(
            f"exact_normalized_margin(p={p}, k={k}, design={d.name!r}): coefficients up to "
            f"{bound:.2e} would overflow int64"
        )

    inputs = all_inputs(task)  # (p^k, k)
    n_in = inputs.shape[0]
    coords = np.empty((n_in, p, D), dtype=np.int64)  # 2^(k+1) f(a)[c], canonical coordinates
    c_shift = (np.outer(zetas, np.arange(p)) * gp) % L  # (Z, p) exponent of zeta c
    chunk = max(1, 2**21 // (m * L))
    for lo in range(0, n_in, chunk):
        a = inputs[lo : lo + chunk]  # (B, k)
        B = a.shape[0]
        r = (base_in[None, :, :] + freq[None, :, None] * a[:, None, :] * gp) % L  # (B, m, k)
        shifts = np.concatenate([r, -r], axis=2).reshape(B * m, 2 * k)  # 2z = sum_q x^shift_q
        P = _histogram(B * m, shifts, L)  # (B m, L): 2z
        for _ in range(k - 1):  # P <- P * 2z, multiplying by each of the 2k monomials of 2z
            product = _shift_rows(P, shifts[:, 0])
            for q in range(1, 2 * k):
                product += _shift_rows(P, shifts[:, q])
            P = product
        # 2w(c) = x^{t_i + zeta c L/p} + x^{-(...)}: first shift by +-t_i, sum per frequency
        plus = _shift_rows(P, np.tile(base_out, B)).reshape(B, Z, n, L).sum(axis=2)
        minus = _shift_rows(P, np.tile(-base_out, B)).reshape(B, Z, n, L).sum(axis=2)
        V = np.zeros((B, p, L), dtype=np.int64)
        for zi in range(Z):
            for c in range(p):
                V[:, c] += np.roll(plus[:, zi], c_shift[zi, c], axis=1)
                V[:, c] += np.roll(minus[:, zi], -c_shift[zi, c], axis=1)
        coords[lo : lo + B] = V @ R

    # neuron norms: 4 cos^2 t = x^{2t} + 2 + x^{-2t}, summed over the k inputs and the output
    a_vals = np.arange(p, dtype=np.int64)
    r_all = (base_in[:, :, None] + freq[:, None, None] * a_vals * gp) % L  # (m, k, p)
    t_all = (base_out[:, None] + freq[:, None] * a_vals * gp) % L  # (m, p)
    angles = np.concatenate([r_all.reshape(m, k * p), t_all], axis=1)  # (m, (k+1) p)
    sq = _histogram(m, np.concatenate([2 * angles, -2 * angles], axis=1), L)
    sq[:, 0] += 2 * angles.shape[1]
    norm_sq = [_to_sympy(row.tolist(), L) / 4 for row in sq @ R]
    norm_power = sp.Add(
        *(cnt * val ** sp.Rational(k + 1, 2) for val, cnt in Counter(norm_sq).items())
    )

    y = labels(inputs, p)
    rows = np.arange(n_in)
    correct = coords[rows, y]  # (n_in, D)
    wrong_mask = np.ones((n_in, p), dtype=bool)
    wrong_mask[rows, y] = False
    wrong = coords[wrong_mask].reshape(n_in, p - 1, D)
    tied = bool((wrong == wrong[:, :1]).all())
    rational = not coords[:, :, 1:].any()
    # locate max wrong and min margin: exactly on integers when rational, else by float value
    # (the real number with coordinates c is sum_t c_t cos(2 pi t / L))
    cosines = np.cos(2 * np.pi * np.arange(D) / L)
    if rational:
        wrong_value = np.where(wrong_mask, coords[..., 0], np.iinfo(np.int64).min)
    else:
        wrong_value = np.where(wrong_mask, coords @ cosines, -np.inf)
    top = np.argmax(wrong_value, axis=1)
    g = correct - coords[rows, top]  # (n_in, D) exact coordinates of 2^(k+1) g(a)
    g_value = g[:, 0] if rational else g @ cosines
    worst = int(np.argmin(g_value))
    on_margin = bool((g == g[worst]).all())
    h = _to_sympy(g[worst].tolist(), L) / 2 ** (k + 1)
    normalized = h / norm_power
    gamma = gamma_star_exact(p, k)
    return ExactMargin(
        p=p,
        k=k,
        design=d.name,
        m=m,
        logits_rational=rational,
        margin=h,
        norm_power=norm_power,
        normalized_margin=normalized,
        gamma_star=gamma,
        equals_gamma_star=_reaches(h, norm_power, gamma),
        all_on_margin=on_margin,
        wrong_labels_tied=tied,
    )
