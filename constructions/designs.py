"""Phase designs: multisets of phase vectors phi in [0, 2 pi)^k, one neuron per point and frequency.

A design's neuron of frequency zeta has u_j(a) = beta cos(phi_j + 2 pi zeta a / p) and
w(c) = beta cos(phi_w + 2 pi zeta c / p) with phi_w = phi_1 + ... + phi_k (Theorem 4.1 (ii)).
Every phase here is a multiple of 2 pi / N, so a design is integer data: points in Z_N^k.

The neurons of one frequency sum to (|design| k! / 2^k) cos(x_1 + ... + x_k - y) for all real angles
exactly when every unwanted character e^{i v.phi} averages to zero over the design (THEORY.md,
"Smaller designs"; proved in constructions.characters). Designs:
- paper:   {0, pi/2} x {0, pi/2, pi, 3pi/2}^(k-1), 2^(2k-1) points (App. G of arXiv 2402.09469);
- grid3:   {0, 2pi/3, 4pi/3}^k, 3^k points;
- lattice: phi_i = 2 pi i z / N, i = 0..N-1, N = 2 * 3^(k-1),
  z = (1, 3, ..., 3^(k-2), 4 * 3^(k-2));
- comb:    (k+1) 2^(k-1) points on Z_{2(k+1)}^k (comb_design, proved there), the fewest for
  k = 2, 3, 4 (docs/min-width.md).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

import fourier_circuits.theory.budget as budget
from fourier_circuits.theory import (
    FloatArray,
    FourierCircuitsError,
    IntArray,
    check_int,
    is_integer,
    validate_k,
    validate_p,
)


@dataclass(frozen=True)
class PhaseDesign:
    """A multiset of phase vectors 2 pi * points / N, points: (n, k) integers in [0, N)."""

    name: str
    N: int
    points: tuple[tuple[int, ...], ...]

    def __post_init__(self) -> None:
        try:
            N = check_int("N", self.N, min_value=1)
        except FourierCircuitsError as err:
            raise FourierCircuitsError(f"design {self.name!r}: {err}") from None
        object.__setattr__(self, "N", N)
        if not self.points:
            raise FourierCircuitsError(f"design {self.name!r} has no points")
        k = len(self.points[0])
        if any(len(pt) != k for pt in self.points):
            raise FourierCircuitsError(f"design {self.name!r}: points must all have length k={k}")
        validate_k(k)
        object.__setattr__(
            self, "points", tuple(tuple(int(c) % self.N for c in pt) for pt in self.points)
        )

    @property
    def k(self) -> int:
        return len(self.points[0])

    @property
    def size(self) -> int:
        """Neurons per frequency."""
        return len(self.points)

    @property
    def integer_points(self) -> IntArray:
        """(n, k) phase numerators in [0, N)."""
        return np.array(self.points, dtype=np.int64)

    @property
    def phases(self) -> FloatArray:
        """(n, k) phases phi_j in [0, 2 pi)."""
        return 2 * np.pi * self.integer_points / self.N

    def width(self, p: int) -> int:
        """m = |design| * (p-1)/2: one neuron per point and frequency."""
        return self.size * (validate_p(p) - 1) // 2

    @classmethod
    def grid(cls, name: str, N: int, axes: Sequence[Sequence[int]]) -> PhaseDesign:
        """The product axes[0] x ... x axes[k-1] of numerators in Z_N."""
        return cls(name, N, tuple(itertools.product(*axes)))

    @classmethod
    def lattice(cls, name: str, N: int, z: Sequence[int]) -> PhaseDesign:
        """The rank-1 lattice {i z mod N : i = 0..N-1}."""
        return cls(name, N, tuple(tuple(i * c for c in z) for i in range(N)))


#: log2 of the number of points of each named design, a closed form in k (module docstring).
LOG2_SIZES: dict[str, Callable[[int], float]] = {
    "paper": lambda k: 2 * k - 1,
    "grid3": lambda k: k * math.log2(3),
    "lattice": lambda k: 1 + (k - 1) * math.log2(3),
    "comb": lambda k: math.log2(k + 1) + k - 1,
}


def design_size(name: str, k: int) -> int:
    """|design| of a named design for k summands, without building it: 2^(2k-1) (paper), 3^k
    (grid3), 2 * 3^(k-1) (lattice); refused when the design would not fit in memory."""
    if not isinstance(name, str) or name not in LOG2_SIZES:
        raise FourierCircuitsError(
            f"design={name!r} is unknown; choose one of {sorted(LOG2_SIZES)}"
        )
    k = validate_k(k)
    require_points(name, k, LOG2_SIZES[name](k))
    return round(2 ** LOG2_SIZES[name](k))


def require_points(name: str, k: int, log2_points: float) -> None:
    """Refuse a design of 2^log2_points points that would not fit in memory while it is built:
    each point is held twice as a tuple of k ints (56 + 8 k bytes) and once as k int64, so
    about 2 (56 + 8 k) + 8 k bytes a point."""
    budget.require_memory_log10(
        f"design {name!r} for k={k} ({budget.magnitude(log2_points * math.log10(2))} points)",
        log2_points * math.log10(2) + math.log10(2 * (56 + 8 * k) + 8 * k),
        fix="choose a smaller k",
    )


def paper_design(k: int) -> PhaseDesign:
    """{0, pi/2} x {0, pi/2, pi, 3 pi/2}^(k-1) (App. G; shifting all phi_j by pi gives the same
    neuron, hence phi_1 in {0, pi/2})."""
    k = validate_k(k)
    require_points("paper", k, LOG2_SIZES["paper"](k))
    return PhaseDesign.grid("paper", 4, [(0, 1)] + [(0, 1, 2, 3)] * (k - 1))


def grid3_design(k: int) -> PhaseDesign:
    """{0, 2 pi/3, 4 pi/3}^k."""
    k = validate_k(k)
    require_points("grid3", k, LOG2_SIZES["grid3"](k))
    return PhaseDesign.grid("grid3", 3, [(0, 1, 2)] * k)


def lattice_design(k: int) -> PhaseDesign:
    """Rank-1 lattice, N = 2 * 3^(k-1), z = (1, 3, ..., 3^(k-2), 4 * 3^(k-2)) (THEORY.md).

    For k = 2 its six points are exactly the order-6 solution z_nu * z_syn (nu = e^{i pi/3}) of
    Tian, "Composing Global Optimizers to Reasoning Tasks via Algebraic Objects in Neural Nets"
    (arXiv 2410.01779; constructions.peers.cogo_design(6), tests/test_peers.py)."""
    k = validate_k(k)
    require_points("lattice", k, LOG2_SIZES["lattice"](k))
    z = [3**j for j in range(k - 1)] + [4 * 3 ** (k - 2)]
    return PhaseDesign.lattice("lattice", 2 * 3 ** (k - 1), z)


def comb_size(k: int) -> int:
    """(k+1) 2^(k-1): the comb design's points per frequency."""
    k = validate_k(k)
    return (k + 1) * 2 ** (k - 1)


def comb_design(k: int) -> PhaseDesign:
    """The comb design for k summands: N = 2(k+1), points j (1, ..., 1) + (k+1) 1_S mod N for
    j = 0..k and S a subset of {0, ..., k-2}; they are distinct (the last coordinate is j, the
    others then give S).

    (k+1) 2^(k-1) points per frequency reach gamma*, fewer than the lattice's 2 * 3^(k-1) for
    every k >= 3 (16, 40, 96 against 18, 54, 162 for k = 3, 4, 5) and exactly the
    proved lower bound for k = 2, 3, 4, so there it is the smallest width (docs/min-width.md).

    Points, on Z_N^k with N = 2(k+1): phi = 2 pi (j (1, ..., 1) + (k+1) 1_S) / N for j = 0..k
    and S a subset of the first k-1 coordinates: a comb of k+1 equally spaced points on the
    diagonal, t (1, ..., 1) with t = 2 pi j / (2(k+1)), translated to each of the 2^(k-1)
    half-period points b_S = pi 1_S. Found by a numerical search for k = 3 (random starts,
    Levenberg-Marquardt on the 51 phases and 17 weights of a 17-point weighted design: most runs
    drove one weight to zero and left 16 equal weights in this structure, each comb shifted along
    the diagonal at random), then proved for every k.

    Proof that every unwanted character vanishes (constructions.characters, THEORY.md "Smaller
    designs"). An unwanted v is n + s (1, ..., 1) != 0 with s = +-1 and |n|_1 <= k, |n|_1 = k
    mod 2, so its coordinate sum sigma(v) = sigma(n) + s k is even and |sigma(v)| <= 2k.
    - sigma(v) != 0: on each comb, sum_j e^{i v.(b + t_j 1)} = e^{i v.b} sum_{j=0}^{k} e^{2 pi i
      (sigma/2) j / (k+1)} = 0, since 0 < |sigma/2| <= k is not a multiple of k+1.
    - sigma(v) = 0: then sigma(n) = -s k with |n|_1 <= k forces n = -s e, e >= 0 with sigma(e) =
      k, so v = s (1 - e). Not every e_j is odd (that forces e = 1, v = 0), so v has an odd
      coordinate, and an even number of them (sigma(v) = 0): one among the first k-1. Every comb
      contributes k+1 times e^{i v.b_S}, and sum_S e^{i v.b_S} = prod_{j<k} (1 + (-1)^{v_j}) =
      0.
    The wanted part and the phase-sum rule are those of every design here; prove_design checks
    the whole statement in exact integer arithmetic (tests/test_comb.py, with negative
    controls).
    """
    k = validate_k(k)
    require_points("comb", k, math.log2(k + 1) + k - 1)
    N = 2 * (k + 1)
    points = [
        tuple((j + (k + 1) * (c in S)) % N for c in range(k))
        for j in range(k + 1)
        for r in range(k)
        for S in itertools.combinations(range(k - 1), r)
    ]
    return PhaseDesign("comb", N, tuple(points))


DESIGNS: dict[str, Callable[[int], PhaseDesign]] = {
    "paper": paper_design,
    "grid3": grid3_design,
    "lattice": lattice_design,
    "comb": comb_design,
}


def get_design(name: str, k: int) -> PhaseDesign:
    """The named design for k summands (one of DESIGNS)."""
    if not isinstance(name, str) or name not in DESIGNS:
        raise FourierCircuitsError(f"design={name!r} is unknown; choose one of {sorted(DESIGNS)}")
    return DESIGNS[name](k)


def require_design(design: object) -> PhaseDesign:
    """design itself if it is a PhaseDesign, else a FourierCircuitsError naming the fix."""
    if not isinstance(design, PhaseDesign):
        raise FourierCircuitsError(
            f"design={design!r} must be a constructions.PhaseDesign (e.g. get_design('paper', k))"
        )
    return design


def phase_w_offsets(design: PhaseDesign, phase_w_offset: int | Sequence[int]) -> IntArray:
    """phi_w - sum_j phi_j in units of 2 pi / N, one per design point, reduced mod N: (n,).

    phase_w_offset is one integer o for every point, or a sequence of one per point; o != 0 mod N
    breaks the phase-sum rule phi_w = phi_1 + ... + phi_k of Theorem 4.1 (ii) (a negative control).
    """
    if is_integer(phase_w_offset):
        return np.full(design.size, int(phase_w_offset) % design.N, dtype=np.int64)
    values = list(phase_w_offset) if isinstance(phase_w_offset, (Sequence, np.ndarray)) else None
    if values is None or len(values) != design.size or not all(is_integer(o) for o in values):
        raise FourierCircuitsError(
            f"phase_w_offset={phase_w_offset!r} must be an integer or a sequence of "
            f"{design.size} integers (one per point of design {design.name!r}), in units of "
            f"2 pi / N = 2 pi / {design.N}"
        )
    return np.array(values, dtype=np.int64) % design.N
