"""The character proof of a phase design (THEORY.md, "Proof outline" step 3 and "Smaller designs";
App. G of arXiv 2402.09469), in exact integer / cyclotomic / sympy arithmetic.

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

An independent route, which never uses this identity, is constructions.exact_margin: it evaluates
the construction on all of D_p in the cyclotomic ring Z[x]/(x^L - 1), L = lcm(p, N).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import sympy as sp

import fourier_circuits.theory.budget as budget
from fourier_circuits.constructions.designs import PhaseDesign, phase_w_offsets, require_design
from fourier_circuits.theory import FourierCircuitsError, validate_k
from fourier_circuits.theory.cyclotomic import exponent_histogram, vanishes

#: Largest number of (character, point) pairs prove_design evaluates (k = 6 paper: 2.6e7).
MAX_CHARACTER_WORK = 10**8


# --- the expansion ---------------------------------------------------------------------------
def _compositions(k: int) -> list[tuple[int, ...]]:
    """All e in Z_{>=0}^k with sum e = k (stars and bars)."""
    out = []
    for bars in itertools.combinations(range(2 * k - 1), k - 1):
        edges = (-1, *bars, 2 * k - 1)
        out.append(tuple(edges[j + 1] - edges[j] - 1 for j in range(k)))
    return out


def require_expansion(k: int) -> None:
    """Refuse the expansion for k where its C(3k-1, k) terms (computed in logarithms) would take
    more than theory.budget's time (about 10 Python-level steps a term) or memory (about 300
    bytes a dictionary entry) limits."""
    k = validate_k(k)
    log10_terms = (math.lgamma(3 * k) - math.lgamma(k + 1) - math.lgamma(2 * k)) / math.log(10)
    quantity = (
        f"the expansion of (sum_j cos)^k cos for k={k} ({budget.magnitude(log10_terms)} terms)"
    )
    budget.require_steps(quantity, 10.0 ** min(log10_terms + 1, 300), fix="choose a smaller k")
    budget.require_memory_log10(quantity, log10_terms + math.log10(300), fix="choose a smaller k")


@functools.lru_cache(maxsize=16)
def _expansion(k: int) -> dict[tuple[tuple[int, ...], int], Fraction]:
    """(n, s) -> A(n, s) = sum_e multinomial(k; e) prod_j binom(e_j, (e_j + n_j)/2) / 2^{e_j} / 2,
    the coefficient of e^{i (n.x + s y)} e^{i (n + s 1).phi} in (sum_j cos(phi_j + x_j))^k
    cos(phi_w + y), from cos^e t = 2^-e sum_l binom(e, l) e^{i (e - 2l) t}.

    Refused up front (require_expansion) where the loop, over sum_e prod_j (e_j + 1) =
    C(3k-1, k) terms (the coefficient of x^k in (1-x)^(-2k)), would not fit or finish."""
    require_expansion(k)
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
    d = require_design(design)
    k, N, n = d.k, d.N, d.size
    off = phase_w_offsets(d, phase_w_offset)
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
        counts = exponent_histogram(hi - lo, residues, N)  # (rows, N)
        verdict: dict[bytes, bool] = {}  # many characters share one count vector
        for i, row in enumerate(counts):
            key = row.tobytes()
            if key not in verdict:
                verdict[key] = vanishes(N, tuple(row.tolist()))
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
        wanted_exact=vanishes(N, tuple(int(x) for x in shifted)),
        phase_rule_broken=broken,
    )


def expansion_residual(design: PhaseDesign, *, phase_w_offset: int | Sequence[int] = 0) -> sp.Expr:
    """The canonical form of sum_design (sum_j cos(phi_j + x_j))^k cos(phi_w + y)
    - |design| k!/2^k cos(x_1 + ... + x_k - y), by direct trigonometric expansion (independent of
    the character argument): the angle-addition formula with sympy's exact cos, sin at rational
    multiples of pi, then reduction of the polynomial in C_t = cos t, S_t = sin t modulo
    S_t^2 + C_t^2 - 1 (a Groebner basis; the remainder is 0 iff the function is identically 0).
    Only for k <= 3 and small designs (sympy's expansion grows like (k |design|)^k)."""
    d = require_design(design)
    k = d.k
    if k > 3 or d.size > 64:
        raise FourierCircuitsError(
            f"expansion_residual: design {d.name!r} has k={k}, {d.size} points; the direct "
            "expansion is only for k <= 3 and at most 64 points (use prove_design)"
        )
    off = phase_w_offsets(d, phase_w_offset)
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
