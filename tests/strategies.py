"""Hypothesis strategies shared by the test suite: structured (p, k) pairs and networks.

Import them from any test module (pytest puts tests/ on sys.path):

    from strategies import networks, odd_p_and_k

Every strategy keeps p^k bounded (`max_examples` is the largest |D_p| = p^k it may draw), so a
test that enumerates D_p by brute force stays fast. Random arrays are drawn from a numpy
Generator seeded by a hypothesis-drawn integer: hypothesis shrinks the seed, numpy does the rest.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from fourier_circuits.constructions import DESIGNS
from fourier_circuits.theory import PolyNet, is_prime

#: Seeds for numpy Generators (hypothesis shrinks towards 0).
seeds = st.integers(min_value=0, max_value=2**32 - 1)

#: The names of the phase designs of constructions.designs.
design_names = st.sampled_from(sorted(DESIGNS))


def odd_moduli(
    *, min_p: int = 3, max_p: int = 101, prime: bool | None = None
) -> st.SearchStrategy[int]:
    """Odd p in [min_p, max_p]; prime=True only primes, prime=False only odd composites,
    None both (odd composite p such as 9 and 15 satisfy the closed form too, THEORY.md)."""
    values = [
        p
        for p in range(max(3, min_p), max_p + 1)
        if p % 2 == 1 and (prime is None or is_prime(p) == prime)
    ]
    if not values:
        raise ValueError(f"no odd p in [{min_p}, {max_p}] with prime={prime}")
    return st.sampled_from(values)


@st.composite
def odd_p_and_k(
    draw: st.DrawFn,
    *,
    max_examples: int = 5000,
    min_k: int = 2,
    max_k: int = 4,
    min_p: int = 3,
    prime: bool | None = None,
) -> tuple[int, int]:
    """(p, k) with p odd >= min_p, min_k <= k <= max_k and p^k <= max_examples.

    k is drawn first and p is then bounded by max_examples^(1/k), so large k still gets drawn.
    """
    ks = [k for k in range(min_k, max_k + 1) if max(3, min_p) ** k <= max_examples]
    if not ks:
        raise ValueError(f"no k in [{min_k}, {max_k}] has {min_p}^k <= {max_examples}")
    k = draw(st.sampled_from(ks))
    max_p = round(max_examples ** (1.0 / k)) + 1
    while max_p**k > max_examples:
        max_p -= 1
    p = draw(odd_moduli(min_p=min_p, max_p=max_p, prime=prime))
    return p, k


@st.composite
def networks(
    draw: st.DrawFn,
    p_and_k: st.SearchStrategy[tuple[int, int]] | None = None,
    *,
    min_width: int = 1,
    max_width: int = 64,
    scales: st.SearchStrategy[float] | None = None,
    sparse: bool = True,
) -> PolyNet:
    """A random PolyNet: Gaussian U and W times a drawn scale, some neurons zero when sparse.

    p_and_k defaults to odd_p_and_k(max_examples=2000); scales to log-uniform in [1e-2, 1e2].
    """
    p, k = draw(p_and_k if p_and_k is not None else odd_p_and_k(max_examples=2000))
    m = draw(st.integers(min_value=min_width, max_value=max_width))
    scale = draw(
        scales
        if scales is not None
        else st.floats(min_value=-2.0, max_value=2.0).map(lambda e: 10.0**e)
    )
    rng = np.random.default_rng(draw(seeds))
    U = scale * rng.standard_normal((m, k, p))  # (m, k, p)
    W = scale * rng.standard_normal((m, p))  # (m, p)
    if sparse and m > 1 and draw(st.booleans()):
        dead = rng.random(m) < 0.3  # some zero neurons: allowed, and common after training
        dead[rng.integers(m)] = False  # keep the network non-zero
        U[dead] = 0.0
        W[dead] = 0.0
    return PolyNet(U, W, {"made_by": "tests.strategies.networks", "scale": scale})


@st.composite
def inputs_for(draw: st.DrawFn, p: int, k: int, *, max_rows: int = 64) -> Any:
    """A batch of inputs (N, k) with entries in [0, p), N in [1, max_rows] (repeats allowed)."""
    n = draw(st.integers(min_value=1, max_value=max_rows))
    rng = np.random.default_rng(draw(seeds))
    return rng.integers(0, p, size=(n, k))


def chunk_sizes(p: int) -> st.SearchStrategy[int | None]:
    """chunk_rows values that exercise every edge: None (the default), below p, p, not a
    multiple of p, and larger than |D_p| for small D_p."""
    return st.one_of(
        st.none(),
        st.sampled_from([1, p - 1, p, p + 1, 2 * p + 1, 10**7]),
        st.integers(min_value=1, max_value=50 * p),
    )
