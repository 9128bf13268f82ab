"""The comb design: (k+1) 2^(k-1) points per frequency reach gamma*, fewer than the lattice's
2 * 3^(k-1) for every k >= 3 (16, 40, 96 against 18, 54, 162 for k = 3, 4, 5) and exactly the proved
lower bound for k = 2, 3, 4, so there it is the smallest width (docs/min-width.md).

Points, on Z_N^k with N = 2(k+1): phi = 2 pi (j (1, ..., 1) + (k+1) 1_S) / N for j = 0..k and S a
subset of the first k-1 coordinates: a comb of k+1 equally spaced points on the diagonal, t (1, ...,
1) with t = 2 pi j / (2(k+1)), translated to each of the 2^(k-1) half-period points b_S = pi 1_S.
Found by a numerical search for k = 3 (random starts, Levenberg-Marquardt on the 51 phases and 17
weights of a 17-point weighted design: most runs drove one weight to zero and left 16 equal weights
in this structure, each comb shifted along the diagonal at random), then proved for every k.

Proof that every unwanted character vanishes (constructions.characters, THEORY.md "Smaller
designs"). An unwanted v is n + s (1, ..., 1) != 0 with s = +-1 and |n|_1 <= k, |n|_1 = k mod 2,
so its coordinate sum sigma(v) = sigma(n) + s k is even and |sigma(v)| <= 2k.
- sigma(v) != 0: on each comb, sum_j e^{i v.(b + t_j 1)} = e^{i v.b} sum_{j=0}^{k}
  e^{2 pi i (sigma/2) j / (k+1)} = 0, since 0 < |sigma/2| <= k is not a multiple of k+1.
- sigma(v) = 0: then sigma(n) = -s k with |n|_1 <= k forces n = -s e, e >= 0 with sigma(e) = k, so
  v = s (1 - e). Not every e_j is odd (that forces e = 1, v = 0), so v has an odd coordinate, and
  an even number of them (sigma(v) = 0): one among the first k-1. Every comb contributes k+1 times
  e^{i v.b_S}, and sum_S e^{i v.b_S} = prod_{j<k} (1 + (-1)^{v_j}) = 0.
The wanted part and the phase-sum rule are those of every design here; prove_design checks the
whole statement in exact integer arithmetic (tests/test_comb.py, with negative controls).
"""

from __future__ import annotations

import itertools
import math

from fourier_circuits.constructions.designs import PhaseDesign, require_points
from fourier_circuits.theory import validate_k


def comb_size(k: int) -> int:
    """(k+1) 2^(k-1): the comb design's points per frequency."""
    k = validate_k(k)
    return (k + 1) * 2 ** (k - 1)


def comb_design(k: int) -> PhaseDesign:
    """The comb design for k summands (module docstring): N = 2(k+1), points j (1, ..., 1) + (k+1)
    1_S mod N for j = 0..k and S a subset of {0, ..., k-2}; they are distinct (the last coordinate
    is j, the others then give S)."""
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
