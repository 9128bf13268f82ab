"""The exact normalized margin of a phase design's construction over all of D_p (App. G of
arXiv 2402.09469; THEORY.md, "Proof outline" and erratum 2), in the cyclotomic ring
Z[x]/(x^L - 1), L = lcm(p, N), reduced to canonical coordinates in Z[omega_L] (theory.cyclotomic).

An independent route to the construction's margin: it never uses the character identity of
constructions.characters, and compares with theory.gamma_star_exact exactly.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import sympy as sp

from fourier_circuits.constructions.designs import (
    PhaseDesign,
    get_design,
    phase_w_offsets,
    require_design,
)
from fourier_circuits.theory import (
    FourierCircuitsError,
    Task,
    all_inputs,
    gamma_star_exact,
    labels,
    validate_p,
)
from fourier_circuits.theory.cyclotomic import (
    INT64_SAFE,
    exponent_histogram,
    multiply_by_monomials,
    real_value,
    reduction_matrix,
)

#: Largest estimated number of integer operations exact_normalized_margin agrees to do: about half
#: a minute of numpy work on a 2-core machine ((p, k) = (5, 4), lattice design: 5.4e8 in 4 s).
MAX_MARGIN_WORK = 4 * 10**9


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
    coords = exponent_histogram(p, exps, p) @ reduction_matrix(p)  # (p, phi(p)): 2 * the sum
    return tuple(real_value(row.tolist(), p) / 2 for row in coords)


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
    D = int(sp.totient(L))  # = deg Phi_L, without building the polynomial
    return p**k * (m * L * (2 * k * (k - 1) + 2) + (p - 1) * p * L + p * L * D)


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
    d = get_design(design, k) if isinstance(design, str) else require_design(design)
    if d.k != k:
        raise FourierCircuitsError(f"design {d.name!r} is for k={d.k}, not k={k}")
    off = phase_w_offsets(d, phase_w_offset)
    work = margin_work(p, k, d)
    if work > MAX_MARGIN_WORK:
        raise FourierCircuitsError(
            f"exact_normalized_margin(p={p}, k={k}, design={d.name!r}) needs about {work:.2e} "
            f"integer operations (p^k x m x L x ..., L = lcm(p, N) = {math.lcm(p, d.N)}), more "
            f"than the limit {MAX_MARGIN_WORK:.0e} (about half a minute); choose a smaller p or k"
        )
    L = math.lcm(p, d.N)
    gN, gp = L // d.N, L // p
    R = reduction_matrix(L)  # (L, D)
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
    if bound >= INT64_SAFE:
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
        P = exponent_histogram(B * m, shifts, L)  # (B m, L): 2z
        for _ in range(k - 1):  # P <- P * 2z, multiplying by each of the 2k monomials of 2z
            product = multiply_by_monomials(P, shifts[:, 0])
            for q in range(1, 2 * k):
                product += multiply_by_monomials(P, shifts[:, q])
            P = product
        # 2w(c) = x^{t_i + zeta c L/p} + x^{-(...)}: first shift by +-t_i, sum per frequency
        plus = multiply_by_monomials(P, np.tile(base_out, B)).reshape(B, Z, n, L).sum(axis=2)
        minus = multiply_by_monomials(P, np.tile(-base_out, B)).reshape(B, Z, n, L).sum(axis=2)
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
    sq = exponent_histogram(m, np.concatenate([2 * angles, -2 * angles], axis=1), L)
    sq[:, 0] += 2 * angles.shape[1]
    norm_sq = [real_value(row.tolist(), L) / 4 for row in sq @ R]
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
    h = real_value(g[worst].tolist(), L) / 2 ** (k + 1)
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
