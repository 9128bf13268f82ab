"""Other constructions for the same task in the literature ("peers"), built as networks of the
paper's form (eq. 2 of arXiv 2402.09469) so that they can be measured by the margin Theorem 4.1
is about, not only by accuracy.

    from fourier_circuits.constructions.peers import build_peer, check_peer
    net = build_peer(97, 2, "gromov", width=500, seed=0)    # a PolyNet
    c = check_peer(31, 2, "cogo4")                            # c.accuracy, c.margin_ratio, ...

Peers (PEERS):
- gromov: Gromov (arXiv 2301.02679, the analytic solution of the section "Analytic solution":
  W^(1)_kn = cos(2 pi sigma(k) n / p + phi^(1)_k), W^(2)_qk = cos(-2 pi sigma(k) q / p -
  phi^(1)_k - phi^(2)_k) with random phases) and its k-term form with activation x^k in
  Doshi, He, Das, Gromov (arXiv 2406.03495, "addition of many terms"): neuron i has one frequency
  zeta_i, u_j(a) = cos(2 pi zeta_i a / p + phi_ij) with phi_ij uniform on [0, 2 pi), and
  w(c) = cos(2 pi zeta_i c / p + phi_i1 + ... + phi_ik). Exact only as the width grows. The
  frequencies are spread evenly: zeta_i = 1 + (i mod (p-1)/2), so the counts per frequency differ
  by at most one (any width; the stored copies of both papers returned only their abstracts, so
  the equations are cited by their form, not by number).
- cogo4, cogo6: Tian, CoGO (arXiv 2410.01779), k = 2, quadratic activation; the per-frequency
  solutions read from the classifier of trained networks in facebookresearch/luckmatters,
  ssl/real-dataset/cogo/factorize_sol.py (cogo_components below gives file, function, lines).
- morwani-dense: Morwani et al. (arXiv 2311.07568, App. D): 2 p^2 neurons that fit the data with
  a dense Fourier spectrum (morwani_dense_network: the construction as reconstructed here).

A peer is *measured* (claim "measured"): it is not a construction claimed to reach gamma*, so its
check reports accuracy over all of D_p, normalized margin / gamma* and the single-frequency share
and fails only when the build breaks the peer's own defining property. cogo6 is the toolkit's
lattice design for k = 2 (tests/test_peers.py) and keeps the designs' claim ("max_margin"):
judged like constructions.checked.
"""

from __future__ import annotations

import cmath
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import fourier_circuits.theory.budget as budget
from fourier_circuits.constructions.analytic import construct, network_bytes, require_network
from fourier_circuits.constructions.designs import PhaseDesign
from fourier_circuits.theory import (
    FourierCircuitsError,
    PolyNet,
    Task,
    beta,
    check_int,
    check_seed,
    width_bound,
)
from fourier_circuits.theory.evaluation import require_evaluation

MEASURED = "measured"
MAX_MARGIN = "max_margin"
#: What a measured peer's output says about its claim.
MEASURED_NOTE = (
    "a peer construction from the literature, measured here; not a construction claimed to "
    "reach gamma* (Theorem 4.1's claim is not judged)"
)


@dataclass(frozen=True)
class Peer:
    """A construction from the literature: how it is cited and what its builder accepts.

    ks: the k it is defined for (None: every k >= 2); random: built from a seed; claim: MEASURED
    or MAX_MARGIN (then judged like the phase designs); own_claim: the property that defines the
    peer, checked on every build (its failure is exit status 1)."""

    name: str
    citation: str
    ks: tuple[int, ...] | None
    random: bool
    claim: str
    own_claim: str
    fixed_width: Callable[[int, int], int] | None  # (p, k) -> width; None: --width chosen


def _per_frequency(n: int) -> Callable[[int, int], int]:
    return lambda p, k: n * (p - 1) // 2


PEERS: dict[str, Peer] = {
    "gromov": Peer(
        "gromov",
        "Gromov, arXiv 2301.02679; Doshi et al., arXiv 2406.03495 (k terms, activation x^k)",
        None,
        True,
        MEASURED,
        "every neuron one frequency with phi_w = phi_1 + ... + phi_k, frequencies spread evenly",
        None,
    ),
    "cogo4": Peer(
        "cogo4",
        "Tian, arXiv 2410.01779 (CoGO), order-4 solution z_{nu=i} * z_xi; luckmatters "
        "ssl/real-dataset/cogo/factorize_sol.py",
        (2,),
        False,
        MEASURED,
        "4 single-frequency neurons per frequency with phi_w = phi_1 + phi_2",
        _per_frequency(4),
    ),
    "cogo6": Peer(
        "cogo6",
        "Tian, arXiv 2410.01779 (CoGO), order-6 solution z_nu * z_syn, nu = e^{i pi/3}; "
        "luckmatters ssl/real-dataset/cogo/factorize_sol.py",
        (2,),
        False,
        MAX_MARGIN,
        "Theorem 4.1 (as the lattice design, which it equals)",
        _per_frequency(6),
    ),
    "morwani-dense": Peer(
        "morwani-dense",
        "Morwani et al., arXiv 2311.07568, App. D (2 p^2 neurons, dense Fourier spectrum)",
        (2,),
        False,
        MEASURED,
        "fits D_p exactly: logits 4 beta' at the label and 0 elsewhere",
        lambda p, k: 2 * p * p,
    ),
}


def get_peer(name: str) -> Peer:
    """The peer called name (one of PEERS)."""
    if not isinstance(name, str) or name not in PEERS:
        raise FourierCircuitsError(f"design={name!r} is not a peer; choose one of {sorted(PEERS)}")
    return PEERS[name]


# --- CoGO (Tian, arXiv 2410.01779) -------------------------------------------------------------


def cogo_components(order: int, *, nu: complex | None = None, xi: complex | None = None) -> Any:
    """The complex weights (3, q) of a CoGO solution at one frequency: rows a, b, c (the Fourier
    coefficients of the two input weights and of the output weight), one column per hidden node.

    From facebookresearch/luckmatters, ssl/real-dataset/cogo/factorize_sol.py: the classifier
    analyze_solution (lines 151-217) splits a frequency's q in (4, 6) nodes with
    analyze_component_v2 (lines 33-80) into a Kronecker product F = component1 * component2
    (column q/2 + j of F is column j times component1's second column: CoGO's ring product,
    Sec. 5 of the paper), each component normalised so that every column has a b c = 1 (line 96);
    check_component (lines 84-144) names the components and summarize46 (lines 242-244) the
    solutions: order 4 = ('order-2-4c', 'order-2-xi'), order 6 = ('order-2-nu', 'order-3-syn').
    - order-2-nu (line 113, a + b = 0): a = (1, nu), b = (1, -nu), c = (1, -1/nu^2);
    - order-3-syn (line 135): a = b = c = (1, omega, conj omega), omega = e^{2 pi i/3};
    - order-2-4c (line 109, c = 1, a = +-i): a = (1, i), b = (1, -i), c = (1, 1);
    - order-2-xi (line 106, c = +-i): a = (1, xi), b = (1, -i conj xi), c = (1, i).
    Defaults: nu = e^{i pi/3} (the issue's reading; every |nu| = 1 reaches gamma*, test_peers),
    xi = e^{i pi/4} (the histogram's peaks, lines 340-374; the order-4 result does not depend
    on xi)."""
    omega = cmath.exp(2j * math.pi / 3)
    if order == 6:
        v = cmath.exp(1j * math.pi / 3) if nu is None else complex(nu)
        first = np.array([[1, v], [1, -v], [1, -1 / v**2]])
        second = np.array([[1, omega, omega.conjugate()]] * 3)
    elif order == 4:
        x = cmath.exp(1j * math.pi / 4) if xi is None else complex(xi)
        first = np.array([[1, 1j], [1, -1j], [1, 1]])
        second = np.array([[1, x], [1, -1j / x], [1, 1j]])
    else:
        raise FourierCircuitsError(f"order={order!r} must be 4 or 6 (CoGO's solutions for k = 2)")
    if not all(abs(abs(z) - 1) < 1e-12 for z in (nu or 1, xi or 1)):
        raise FourierCircuitsError("nu and xi must have modulus 1 (unit-modulus CoGO components)")
    # the ring product: node (i, j) has coefficients first[:, i] * second[:, j] (Kronecker)
    return np.einsum("ri,rj->rij", first, second).reshape(3, -1)


def cogo_phases(F: Any) -> Any:
    """(q, 2) input phases of CoGO's nodes: phi_1 = arg a, phi_2 = arg b. Our neuron is
    u_j(x) = cos(phi_j + 2 pi zeta x / p), w(c) = cos(phi_w + 2 pi zeta c / p); CoGO's output
    coefficient is conjugated (its columns have a b c = 1), so phi_w = -arg c, and the phase-sum
    rule phi_w = phi_1 + phi_2 is exactly a b c = 1 (checked here)."""
    F = np.asarray(F, dtype=complex)
    if not np.allclose(F[0] * F[1] * F[2], 1.0, atol=1e-12):
        raise FourierCircuitsError("CoGO columns must have a b c = 1 (factorize_sol.py line 96)")
    return np.stack([np.angle(F[0]), np.angle(F[1])], axis=1)


def cogo_design(order: int) -> PhaseDesign:
    """The default CoGO solution of `order` (4 or 6) as an integer phase design: phases are
    multiples of 2 pi / N with N = 8 (order 4, xi = e^{i pi/4}) or 6 (order 6, nu = e^{i pi/3})."""
    N = {4: 8, 6: 6}.get(order)
    if N is None:
        raise FourierCircuitsError(f"order={order!r} must be 4 or 6 (CoGO's solutions for k = 2)")
    units = cogo_phases(cogo_components(order)) * N / (2 * math.pi)
    points = np.rint(units).astype(np.int64)
    assert np.allclose(units, points, atol=1e-9), "CoGO phases are multiples of 2 pi / N"
    return PhaseDesign(f"cogo{order}", N, tuple(tuple(int(c) for c in pt) for pt in points))


# --- builders ----------------------------------------------------------------------------------


def phase_network(p: int, zetas: Any, phases: Any, *, meta: dict[str, Any]) -> PolyNet:
    """Unit neurons u_j(a) = beta cos(phi_ij + 2 pi zeta_i a / p), w(c) = beta cos(phi_i1 + ... +
    phi_ik + 2 pi zeta_i c / p) (zetas (m,), phases (m, k)), all scaled by m^(-1/(k+1)) so that
    ||theta||_{2,k+1} = 1 (as constructions.analytic.construct)."""
    zetas = np.asarray(zetas, dtype=np.int64)
    phases = np.asarray(phases, dtype=np.float64)
    m, k = phases.shape
    task = Task(p, k)
    require_network(m, k, task.p, what="phase_network")
    angle = 2 * np.pi * np.outer(zetas, np.arange(task.p)) / task.p  # (m, p)
    U = np.cos(phases[:, :, None] + angle[:, None, :])  # (m, k, p)
    W = np.cos(phases.sum(axis=1)[:, None] + angle)  # (m, p) phi_w = phi_1 + ... + phi_k
    scale = beta(task.p, k) * m ** (-1.0 / (k + 1))
    return PolyNet(scale * U, scale * W, meta)


def gromov_network(p: int, k: int, *, width: int, seed: int = 0) -> PolyNet:
    """Gromov's / Doshi et al.'s random-phase network (module docstring) of `width` neurons:
    zeta_i = 1 + (i mod (p-1)/2), phi_ij uniform on [0, 2 pi) from numpy's default_rng(seed)."""
    task = Task(p, k)
    m = check_int("width", width, min_value=1)
    seed = check_seed(seed)
    require_network(m, task.k, task.p, what="gromov_network")
    h = (task.p - 1) // 2
    zetas = 1 + np.arange(m) % h  # spread evenly: counts differ by at most one
    phases = np.random.default_rng(seed).uniform(0.0, 2 * np.pi, size=(m, task.k))
    meta = {"made_by": "fourier_circuits.constructions.peers.gromov_network", "seed": seed}
    return phase_network(task.p, zetas, phases, meta=meta)


def cogo_network(p: int, order: int) -> PolyNet:
    """CoGO's order-4 or order-6 solution at every frequency 1..(p-1)/2 (k = 2)."""
    return construct(p, 2, cogo_design(order))


def morwani_dense_network(p: int) -> PolyNet:
    """2 p^2 neurons, two per pair (a, b) in Z_p^2 (k = 2): u_1 = e_a, u_2 = s e_b, w = s e_{a+b},
    s = +-1. By polarization (u + v)^2 - (u - v)^2 = 4 u v the pair adds 4 [x_1 = a][x_2 = b] to
    logit a + b, so the logits are 4 delta(c = y): every example correct and on the margin, the
    spectrum of every vector flat (one-hot), normalized margin 4 / (2 p^2 3^(3/2)), a fraction
    sqrt(2) (p-1) / p^(3/2) of gamma*. App. D of arXiv 2311.07568 could not be read here (the
    stored copy returned only the opening): this is the most literal network with its stated
    properties (2 p^2 neurons, fits the data, dense spectrum, smaller margin)."""
    task = Task(p, 2)
    m = 2 * task.p**2
    require_network(m, 2, task.p, what="morwani_dense_network")
    a, b = (g.ravel() for g in np.meshgrid(np.arange(task.p), np.arange(task.p), indexing="ij"))
    a, b = np.repeat(a, 2), np.repeat(b, 2)  # (m,) the pair of each neuron
    s = np.tile([1.0, -1.0], task.p**2)  # (m,) its sign
    rows = np.arange(m)
    U = np.zeros((m, 2, task.p))
    W = np.zeros((m, task.p))
    U[rows, 0, a] = 1.0
    U[rows, 1, b] = s
    W[rows, (a + b) % task.p] = s
    scale = (m * 3**1.5) ** (-1.0 / 3)  # each neuron has norm sqrt(3); ||theta||_{2,3} = 1
    meta = {"made_by": "fourier_circuits.constructions.peers.morwani_dense_network"}
    return PolyNet(scale * U, scale * W, meta)


def peer_width(name: str, p: int, k: int, width: int | None = None) -> int:
    """The width of peer `name` at (p, k), validated before anything is built: fixed-width peers
    refuse any other width; gromov takes any width >= 1 (default: the paper's 2^(2k-2) (p-1))."""
    peer = get_peer(name)
    task = Task(p, k)
    if peer.ks is not None and task.k not in peer.ks:
        raise FourierCircuitsError(
            f"design {name!r} is defined for k in {list(peer.ks)} only, not k={task.k} "
            f"({peer.citation})"
        )
    if peer.fixed_width is None:
        return (
            width_bound(task.p, task.k) if width is None else check_int("width", width, min_value=1)
        )
    fixed = peer.fixed_width(task.p, task.k)
    if width is not None and width != fixed:
        raise FourierCircuitsError(
            f"--width {width!r}: design {name!r} has the fixed width {fixed} at p={task.p}, "
            f"k={task.k}; omit --width (only gromov takes a width)"
        )
    return fixed


def peer_seed(name: str, seed: int | None) -> int | None:
    """The seed a peer is built from: gromov's (default 0); a deterministic peer refuses one."""
    if get_peer(name).random:
        return 0 if seed is None else check_seed(seed)
    if seed is not None:
        raise FourierCircuitsError(
            f"--seed {seed!r}: design {name!r} is deterministic; omit --seed "
            "(only gromov is random)"
        )
    return None


def require_peer(
    p: int, k: int, name: str, *, width: int | None = None, seed: int | None = None
) -> tuple[int, int | None]:
    """(width, seed) of peer `name` at (p, k), every argument validated and the build refused
    when it would not fit in memory or its pass over D_p would not finish (theory.budget, with
    the estimate); nothing is built."""
    m = peer_width(name, p, k, width)
    s = peer_seed(name, seed)
    budget.require_memory(
        f"the {name!r} network: U (m, k, p) = ({m}, {k}, {p}) and W (m, p), float64, twice "
        "while built",
        network_bytes(m, k, p),
        fix="choose a smaller --width" if name == "gromov" else "choose a smaller p",
    )
    require_evaluation(m, k, p)
    return m, s


def build_peer(
    p: int, k: int, name: str, *, width: int | None = None, seed: int | None = None
) -> PolyNet:
    """The network of peer `name` at (p, k); refused before anything is built when it would not
    fit in memory or its pass over D_p would not finish (require_peer)."""
    m, s = require_peer(p, k, name, width=width, seed=seed)
    if name == "gromov":
        return gromov_network(p, k, width=m, seed=s or 0)
    if name == "morwani-dense":
        return morwani_dense_network(p)
    return cogo_network(p, int(name.removeprefix("cogo")))
