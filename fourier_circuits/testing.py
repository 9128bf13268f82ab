"""Hypothesis strategies for property tests of arXiv 2402.09469 in your own suite.

Modelled on `hypothesis.extra.numpy`: every strategy validates its arguments when it is built
(raising `hypothesis.errors.InvalidArgument` that names the value and the rule), and draws
structure that the shrinker reduces to small readable examples (small p and k, narrow networks with
few non-zero entries, the smallest phase design, no symmetry applied).

- `moduli`, `problems`: odd p (prime, composite or both) and (p, k) pairs with |D_p| = p^k bounded.
- `inputs`: batches of inputs a in Z_p^k.
- `networks`: finite non-zero PolyNets (paper eq. 2) whose entries hypothesis draws.
- `designs`, `broken_designs`: the registered phase designs and negative controls that break the
  character conditions (THEORY.md, "Smaller designs").
- `max_margin_networks`: networks attaining gamma*(p, k) (Theorem 4.1), drawn over the symmetries
  of the maximum-margin problem.

Install with `pip install 'fourier-circuits[hypothesis]'`. It imports neither torch nor cvxpy.
How to use it: docs/property-testing.md.
"""

from __future__ import annotations

try:
    from hypothesis import strategies as st
    from hypothesis.errors import InvalidArgument
    from hypothesis.extra import numpy as hnp
except ImportError as err:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        "fourier_circuits.testing needs hypothesis: pip install 'fourier-circuits[hypothesis]'"
    ) from err

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy

from fourier_circuits.constructions.analytic import construct
from fourier_circuits.constructions.designs import DESIGNS, PhaseDesign
from fourier_circuits.constructions.exact import DesignProof, prove_design
from fourier_circuits.theory import FourierCircuitsError, PolyNet, validate_k, validate_p
from fourier_circuits.theory.task import MAX_EXAMPLES

__all__ = [
    "BrokenDesign",
    "broken_designs",
    "designs",
    "inputs",
    "max_margin_networks",
    "moduli",
    "networks",
    "problems",
]

#: Widths `networks` draws when neither `width` nor `max_width` is given.
DEFAULT_MAX_WIDTH = 8
#: Phase shifts of `max_margin_networks` are multiples of 2 pi / PHASE_STEPS (any real shift works;
#: a rational one keeps the shifted design a PhaseDesign, so prove_design can check it).
PHASE_STEPS = 12
#: Ranges of odd p up to this many values are listed when filtered by primality; longer ones map a
#: drawn odd number to the nearest match (prime gaps below 2^64 are under 1600, so one exists).
_LISTED = 4096


# --- validation (at build time) ----------------------------------------------------------------
def _integer(name: str, value: object, *, minimum: int, rule: str = "") -> int:
    """value as an int >= minimum, or InvalidArgument naming the value and the rule."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InvalidArgument(f"{name}={value!r} must be an integer >= {minimum}{rule}")
    return int(value)


def _task(p: object, k: object, *, bounded: bool = True) -> tuple[int, int]:
    """(p, k) checked by theory's validators (p odd >= 3, k >= 2), and p^k <= theory's limit on
    |D_p| (theory.task.MAX_EXAMPLES = 2^33) when bounded: beyond it no margin can be computed."""
    try:
        p_int = validate_p(p)
    except FourierCircuitsError as err:
        raise InvalidArgument(str(err)) from None
    k_int = _summands(k)
    if bounded and p_int**k_int > MAX_EXAMPLES:
        raise InvalidArgument(
            f"p^k = {p_int}^{k_int} = {p_int**k_int:.3e} must be at most 2^33 = {MAX_EXAMPLES:.3e} "
            "(the largest D_p that theory enumerates); choose a smaller p or k"
        )
    return p_int, k_int


def _summands(k: object) -> int:
    try:
        return validate_k(k)
    except FourierCircuitsError as err:
        raise InvalidArgument(str(err)) from None


def _prime_filter(prime: object) -> bool | None:
    if prime is not None and not isinstance(prime, bool):
        raise InvalidArgument(f"prime={prime!r} must be True, False or None")
    return prime


def _strategy(name: str, value: object) -> None:
    if value is not None and not isinstance(value, st.SearchStrategy):
        raise InvalidArgument(f"{name}={value!r} must be a hypothesis SearchStrategy (or None)")


# --- p and k -----------------------------------------------------------------------------------
def _nearest(p: int, lo: int, hi: int, prime: bool) -> int:
    """The first odd q >= p in [lo, hi] with isprime(q) == prime, else the last one below p."""
    for q in itertools.chain(range(p, hi + 1, 2), range(p - 2, lo - 1, -2)):
        if sympy.isprime(q) == prime:
            return q
    raise AssertionError(f"no odd p in [{lo}, {hi}] with prime={prime}")  # excluded when built


def _odd_values(lo: int, hi: int, prime: bool | None) -> st.SearchStrategy[int] | None:
    """Odd p in [max(lo, 3), hi] (prime=True only primes, False only composites), shrinking to the
    smallest; None when there is none."""
    lo = max(lo + (lo % 2 == 0), 3)
    hi -= hi % 2 == 0
    if hi < lo:
        return None
    count = (hi - lo) // 2 + 1
    if prime is None:
        return st.integers(0, count - 1).map(lambda i: lo + 2 * i)
    if count <= _LISTED:
        values = [q for q in range(lo, hi + 1, 2) if sympy.isprime(q) == prime]
        return st.sampled_from(values) if values else None
    return st.integers(0, count - 1).map(lambda i: _nearest(lo + 2 * i, lo, hi, prime))


def _which(prime: bool | None) -> str:
    return {None: "", True: " prime", False: " composite"}[prime]


def moduli(
    *, min_p: int = 3, max_p: int = 101, prime: bool | None = None
) -> st.SearchStrategy[int]:
    """Odd p in [min_p, max_p], shrinking to the smallest: prime=True only primes (the paper's
    setting), prime=False only odd composites, None both. The closed form of Theorem 4.1 (i) of
    arXiv 2402.09469 holds numerically for odd composite p too (THEORY.md); even p is outside
    the theory (docs/even-p.md)."""
    min_p = _integer("min_p", min_p, minimum=3)
    max_p = _integer("max_p", max_p, minimum=min_p, rule=f" (min_p={min_p})")
    values = _odd_values(min_p, max_p, _prime_filter(prime))
    if values is None:
        raise InvalidArgument(f"no odd{_which(prime)} p in [min_p, max_p] = [{min_p}, {max_p}]")
    return values


@st.composite
def _problems(
    draw: st.DrawFn, options: tuple[tuple[int, st.SearchStrategy[int]], ...]
) -> tuple[int, int]:
    k, ps = draw(st.sampled_from(options))  # k first, so every allowed k is drawn
    return draw(ps), k


def problems(
    *,
    max_examples: int = 5000,
    min_k: int = 2,
    max_k: int = 4,
    min_p: int = 3,
    max_p: int | None = None,
    prime: bool | None = None,
) -> st.SearchStrategy[tuple[int, int]]:
    """Tasks (p, k) of arXiv 2402.09469 (Section 3: k-input addition modulo p, D_p = Z_p^k):
    p odd in [min_p, max_p], min_k <= k <= max_k and |D_p| = p^k <= max_examples, so a test may
    enumerate D_p. prime: as in `moduli`.

    k is drawn first (uniformly among the k that admit some p), then p <= max_examples^(1/k), so
    the largest k is drawn as often as the smallest; shrinks towards small k, then small p.
    """
    max_examples = _integer("max_examples", max_examples, minimum=1)
    min_k = _integer("min_k", min_k, minimum=2, rule=" (the number of summands)")
    max_k = _integer("max_k", max_k, minimum=2, rule=" (the number of summands)")
    if min_k > max_k:
        raise InvalidArgument(f"min_k={min_k} must be <= max_k={max_k}")
    min_p = _integer("min_p", min_p, minimum=3)
    if max_p is not None:
        max_p = _integer("max_p", max_p, minimum=min_p, rule=f" (min_p={min_p})")
    prime = _prime_filter(prime)
    options = []
    for k in range(min_k, max_k + 1):
        if min_p**k > max_examples:  # p^k grows with k: no larger k fits either
            break
        root = int(sympy.integer_nthroot(max_examples, k)[0])  # floor(max_examples^(1/k))
        values = _odd_values(min_p, root if max_p is None else min(root, max_p), prime)
        if values is not None:
            options.append((k, values))
    if not options:
        raise InvalidArgument(
            f"no (p, k) with p odd{_which(prime)} in [min_p, max_p] = [{min_p}, {max_p}], "
            f"k in [min_k, max_k] = [{min_k}, {max_k}] and p^k <= max_examples={max_examples}"
        )
    return _problems(tuple(options))


def inputs(p: int, k: int, *, min_rows: int = 1, max_rows: int = 64) -> st.SearchStrategy[Any]:
    """Batches of inputs a = (a_1, ..., a_k) in Z_p^k (Section 3 of arXiv 2402.09469): int64
    arrays of shape (N, k), min_rows <= N <= max_rows, repeats allowed; shrinks to one row of
    zeros, or to zeros but for the entries a failure needs."""
    p, k = _task(p, k, bounded=False)
    min_rows = _integer("min_rows", min_rows, minimum=0)
    max_rows = _integer("max_rows", max_rows, minimum=min_rows, rule=f" (min_rows={min_rows})")
    shapes = st.integers(min_rows, max_rows).map(lambda n: (n, k))
    # no fill value: every entry shrinks on its own, to 0 unless the failure needs it
    return hnp.arrays(np.int64, shapes, elements=st.integers(0, p - 1), fill=st.nothing())


# --- networks ----------------------------------------------------------------------------------
def _nonzero(net: PolyNet) -> bool:
    """||theta||_{2,k+1}^(k+1) > 0: the normalized margin h / ||theta||^(k+1) (Def 3.4) exists."""
    return net.norm() ** (net.k + 1) > 0.0


def networks(
    p: int,
    k: int,
    *,
    width: int | None = None,
    min_width: int | None = None,
    max_width: int | None = None,
    elements: st.SearchStrategy[float] | None = None,
) -> st.SearchStrategy[PolyNet]:
    """Finite PolyNets f(a)[c] = sum_i (sum_j U[i, j, a_j])^k W[i, c] (eq. 2 of arXiv
    2402.09469), U: (m, k, p), W: (m, p), float64, with every entry drawn by hypothesis.

    width: exactly m neurons; otherwise m in [min_width, max_width] (default 1..8). elements:
    the entries (default: floats in [-2, 2], no NaN, infinity or subnormals). Never the zero
    network (nor one whose ||theta||^(k+1) underflows): its normalized margin is 0/0 and
    theory.margin_report refuses it. Shrinks to a width-1 network of small integers (mostly one
    value per array: hypothesis.extra.numpy draws large arrays around a fill value).
    """
    p, k = _task(p, k)
    if width is not None:
        if min_width is not None or max_width is not None:
            raise InvalidArgument(
                f"width={width!r} fixes m; do not also pass min_width={min_width!r} or "
                f"max_width={max_width!r}"
            )
        widths = st.just(_integer("width", width, minimum=1, rule=" (neurons)"))
    else:
        low = _integer("min_width", 1 if min_width is None else min_width, minimum=1)
        high = max(low, DEFAULT_MAX_WIDTH) if max_width is None else max_width
        high = _integer("max_width", high, minimum=low, rule=f" (min_width={low})")
        widths = st.integers(low, high)
    _strategy("elements", elements)
    entries = (
        st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False, allow_subnormal=False)
        if elements is None
        else elements
    )

    def arrays(m: int) -> st.SearchStrategy[PolyNet]:
        U = hnp.arrays(np.float64, (m, k, p), elements=entries)  # (m, k, p)
        W = hnp.arrays(np.float64, (m, p), elements=entries)  # (m, p)
        return st.builds(PolyNet, U, W, st.just({"made_by": "fourier_circuits.testing.networks"}))

    return widths.flatmap(arrays).filter(_nonzero)


# --- phase designs -----------------------------------------------------------------------------
def _registered(k: int) -> tuple[PhaseDesign, ...]:
    """Every design of constructions.DESIGNS for k, smallest first (the shrink target)."""
    return tuple(sorted((make(k) for make in DESIGNS.values()), key=lambda d: (d.size, d.name)))


def designs(k: int) -> st.SearchStrategy[PhaseDesign]:
    """The registered phase designs (constructions.DESIGNS) for k summands, shrinking to the
    smallest. Each neuron of a design has phases phi in [0, 2 pi)^k and phi_w = phi_1 + ... + phi_k;
    every unwanted character averages to zero over it (constructions.exact.prove_design), so its
    neurons of one frequency sum to (|design| k!/2^k) cos(x_1 + ... + x_k - y) and its
    construction reaches gamma* (App. G of arXiv 2402.09469; THEORY.md, "Smaller designs")."""
    return st.sampled_from(_registered(_summands(k)))


@dataclass(frozen=True)
class BrokenDesign:
    """A registered design with one defect that breaks the character conditions (a negative
    control). phase_w_offset: o per point, phi_w = phi_1 + ... + phi_k + 2 pi o / N (all 0 unless
    the defect is the phase-sum rule of Theorem 4.1 (ii)); defect: what was changed, in words."""

    design: PhaseDesign
    phase_w_offset: tuple[int, ...]
    defect: str

    def proof(self) -> DesignProof:
        """constructions.exact.prove_design of this design and offset (it never `holds`)."""
        return prove_design(self.design, phase_w_offset=self.phase_w_offset)


@st.composite
def _broken(draw: st.DrawFn, k: int) -> BrokenDesign:
    base = draw(designs(k))
    pts, n, N = list(base.points), base.size, base.N
    i = draw(st.integers(0, n - 1), label="point")
    kind = draw(st.sampled_from(("remove", "duplicate", "move", "phase_sum")), label="defect")
    zero = (0,) * n
    if kind == "remove":
        # the character sums were 0; without point i they are -omega^(v.point_i) != 0
        rest = PhaseDesign(f"{base.name}-remove", N, tuple(pts[:i] + pts[i + 1 :]))
        return BrokenDesign(rest, zero[1:], f"removed point {i}")
    if kind == "duplicate":  # now +omega^(v.point_i) != 0
        twice = PhaseDesign(f"{base.name}-duplicate", N, (*pts, pts[i]))
        return BrokenDesign(twice, (0,) * (n + 1), f"duplicated point {i}")
    if kind == "move":
        # a sum changes by omega^(v.point_i) (omega^(v_j delta) - 1), and some unwanted v has
        # v_j = 1 (n_j = 0, s = 1, all of the composition e on another coordinate)
        j = draw(st.integers(0, k - 1), label="coordinate")
        delta = draw(st.integers(1, N - 1), label="delta")
        moved = list(pts[i])
        moved[j] = (moved[j] + delta) % N
        pts[i] = tuple(moved)
        defect = f"phi_{j + 1} of point {i} moved by 2 pi {delta}/{N}"
        return BrokenDesign(PhaseDesign(f"{base.name}-move", N, tuple(pts)), zero, defect)
    # the wanted part gets S = sum_phi omega^(-o) != |design| (constructions.exact docstring)
    o = draw(st.integers(1, N - 1), label="offset")
    offset = tuple(o if r == i else 0 for r in range(n))
    return BrokenDesign(base, offset, f"phi_w of point {i} is phi_1 + ... + phi_k + 2 pi {o}/{N}")


def broken_designs(k: int) -> st.SearchStrategy[BrokenDesign]:
    """Negative controls: a registered design (see `designs`) with one point removed, one point
    duplicated, one phase phi_j of one point moved, or the phase-sum rule phi_w = phi_1 + ... +
    phi_k (Theorem 4.1 (ii) of arXiv 2402.09469) broken at one point. Each violates the character
    conditions of THEORY.md ("Smaller designs"), so constructions.exact.prove_design refutes it
    (`BrokenDesign.proof().holds` is False). Shrinks to the smallest design without its point 0.
    When phase_w_offset is all 0, `constructions.construct(p, k, broken.design)` is its network."""
    return _broken(_summands(k))


# --- max-margin networks ---------------------------------------------------------------------
def _shifted(design: PhaseDesign, t: Any) -> PhaseDesign:
    """The design phi -> phi + 2 pi t / PHASE_STEPS (t: (k,) integers). Its character sums are
    those of the design times e^{i v.shift}, so they still vanish."""
    if not np.any(t):
        return design
    L = math.lcm(design.N, PHASE_STEPS)
    step, unit = L // PHASE_STEPS, L // design.N
    pts = tuple(
        tuple(c * unit + int(s) * step for c, s in zip(pt, t, strict=True)) for pt in design.points
    )
    return PhaseDesign(f"{design.name}+shift", L, pts)


@st.composite
def _max_margin(draw: st.DrawFn, p: int, k: int) -> PolyNet:
    options = _registered(k)
    Z = (p - 1) // 2  # frequencies zeta = 1..Z
    index = st.integers(0, len(options) - 1)
    first = draw(hnp.arrays(np.int64, Z, elements=index), label="design per frequency")
    # 0: none, d: mix options[d - 1] in, with weight r/(1+r) against 1/(1+r)
    second = draw(hnp.arrays(np.int64, Z, elements=st.integers(0, len(options))), label="mixed in")
    ratio = draw(hnp.arrays(np.int64, Z, elements=st.integers(1, 3)), label="mixing ratio")
    shifts = st.integers(0, PHASE_STEPS - 1)
    t1 = draw(hnp.arrays(np.int64, (Z, k), elements=shifts), label="phase shift")
    t2 = draw(hnp.arrays(np.int64, (Z, k), elements=shifts), label="phase shift (mixed in)")
    Us, Ws = [], []
    record: dict[str, list[Any]] = {"designs": [], "weights": [], "phase_shifts": []}
    for z in range(Z):
        # construct(..., frequencies=[zeta]) has sum_i ||theta_i||^(k+1) = 1: equal total weight
        # per frequency, which ties the wrong labels (sum_zeta cos(2 pi zeta d/p) = -1/2, d != 0);
        # unequal weights per frequency lose the margin (proof step 3 of THEORY.md)
        parts = [(options[first[z]], t1[z], 1.0)]
        if second[z]:
            r = float(ratio[z])
            parts = [
                (parts[0][0], t1[z], 1 / (1 + r)),
                (options[second[z] - 1], t2[z], r / (1 + r)),
            ]
        for design, t, weight in parts:
            # a mixture of designs is a design (character sums add); weight w scales a
            # neuron by w^(1/(k+1)), its contribution to the logits by w ((k+1)-homogeneity)
            net = construct(p, k, _shifted(design, t), frequencies=[z + 1])
            net = net.scaled(weight ** (1.0 / (k + 1)))
            Us.append(net.U)
            Ws.append(net.W)
        record["designs"].append([d.name for d, _, _ in parts])
        record["weights"].append([w for _, _, w in parts])
        record["phase_shifts"].append([t.tolist() for _, t, _ in parts])
    U, W = np.concatenate(Us), np.concatenate(Ws)  # (m, k, p), (m, p)
    m = U.shape[0]
    a = np.arange(p)
    # unit map a -> u a (u a unit of Z_p): f'(a)[c] = f(u a)[u c], and sum_j u a_j = u y
    u = draw(st.sampled_from([u for u in range(1, p) if math.gcd(u, p) == 1]), label="unit")
    U, W = U[:, :, (u * a) % p], W[:, (u * a) % p]
    # input shift a_j -> a_j + s_j: f'(a)[c] = f(a + s)[c + sum s], and y(a + s) = y(a) + sum s
    s = draw(hnp.arrays(np.int64, k, elements=st.integers(0, p - 1)), label="input shift")
    U = np.stack([U[:, j, (a + s[j]) % p] for j in range(k)], axis=1)
    W = W[:, (a + s.sum()) % p]
    # the summands commute: permuting the k inputs keeps every label
    order = draw(st.permutations(range(k)), label="input order")
    U = U[:, order, :]
    # (-z)^k (-1)^k w = z^k w: flipping U_i and (-1)^k W_i keeps the neuron's function and norm
    flip = draw(hnp.arrays(np.bool_, m, elements=st.booleans()), label="sign flips")
    U = np.where(flip[:, None, None], -U, U)
    W = np.where(flip[:, None], (-1) ** k * W, W)
    # neuron order: a permutation from a drawn seed (m draws would overrun hypothesis's buffer)
    seed = draw(st.none() | st.integers(0, 2**32 - 1), label="neuron shuffle seed")
    perm = np.arange(m) if seed is None else np.random.default_rng(seed).permutation(m)
    # normalized margin is scale-invariant: h and ||theta||^(k+1) both scale by alpha^(k+1)
    scale = draw(st.floats(0.5, 2.0), label="scale")
    meta = {
        "made_by": "fourier_circuits.testing.max_margin_networks",
        **record,
        "unit": u,
        "input_shift": s.tolist(),
        "input_order": list(order),
        "sign_flips": int(flip.sum()),
        "neuron_shuffle_seed": seed,
        "scale": scale,
    }
    return PolyNet(scale * U[perm], scale * W[perm], meta)


def max_margin_networks(p: int, k: int) -> st.SearchStrategy[PolyNet]:
    """Networks whose normalized margin is `gamma*(p, k) = 2 k! / ((2k+2)^((k+1)/2) (p-1)
    p^((k-1)/2))` (Theorem 4.1 (i) of arXiv 2402.09469), for odd p (prime or composite).

    Built from the analytic construction (App. G; constructions.construct), drawn over the
    symmetries that keep the maximum margin: per frequency zeta, a registered design (every one
    reaches the maximum), optionally mixed with a second at weight ratio 1 : r (r in 1..3), each
    shifted by a phase vector phi -> phi + 2 pi t / 12; the unit maps a -> u a, gcd(u, p) = 1
    (U[:, j, a] -> U[:, j, u a], W[:, c] -> W[:, u c]); the input shift a_j -> a_j + s_j
    (U[:, j, a] -> U[:, j, a + s_j], W[:, c] -> W[:, c + sum s]); the order of the k inputs;
    per-neuron sign flips (U_i, W_i) -> (-U_i, (-1)^k W_i); the order of the neurons; an overall
    scale in [0.5, 2]. Every frequency carries the same total sum_i ||theta_i||^(k+1): unequal
    weights per frequency break the tie of the wrong labels and lose the margin.

    Every drawn network is single-frequency per neuron with phi_1 + ... + phi_k = phi_w and
    covers every frequency (Theorem 4.1 (ii)-(iii)). Shrinks to the smallest registered design at
    every frequency (the lattice design: width 3^(k-1) (p-1), below the paper's 2^(2k-2) (p-1)),
    with no symmetry applied. `net.meta` records the draws (JSON): per frequency the designs,
    their weights and phase shifts t; then unit, input_shift, input_order, sign_flips,
    neuron_shuffle_seed and scale.
    """
    return _max_margin(*_task(p, k))
