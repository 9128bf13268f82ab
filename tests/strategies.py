"""Hypothesis strategies of the test suite alone; the public ones (problems, moduli, inputs,
networks, designs, broken_designs, max_margin_networks) live in fourier_circuits.testing.

Import them from any test module (pytest puts tests/ on sys.path):

    from strategies import gaussian_networks, seeds
    from fourier_circuits.testing import problems

gaussian_networks draws dense Gaussian arrays from a numpy Generator seeded by a hypothesis-drawn
integer (hypothesis shrinks the seed, numpy does the rest): the generic float networks that the
numerical tests need, at scales from 1e-2 to 1e2. fourier_circuits.testing.networks instead draws
every entry with hypothesis, so a failure shrinks to a small readable network.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from fourier_circuits.constructions import DESIGNS
from fourier_circuits.testing import problems
from fourier_circuits.theory import PolyNet

#: Seeds for numpy Generators (hypothesis shrinks towards 0).
seeds = st.integers(min_value=0, max_value=2**32 - 1)

#: The names of the phase designs of constructions.designs.
design_names = st.sampled_from(sorted(DESIGNS))


@st.composite
def gaussian_networks(
    draw: st.DrawFn,
    p_and_k: st.SearchStrategy[tuple[int, int]] | None = None,
    *,
    min_width: int = 1,
    max_width: int = 64,
    scales: st.SearchStrategy[float] | None = None,
    sparse: bool = True,
) -> PolyNet:
    """A random PolyNet: Gaussian U and W times a drawn scale, some neurons zero when sparse.

    p_and_k defaults to problems(max_examples=2000); scales to log-uniform in [1e-2, 1e2].
    """
    p, k = draw(p_and_k if p_and_k is not None else problems(max_examples=2000))
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
    return PolyNet(U, W, {"made_by": "tests.strategies.gaussian_networks", "scale": scale})


def chunk_sizes(p: int) -> st.SearchStrategy[int | None]:
    """chunk_rows values that exercise every edge: None (the default), below p, p, not a
    multiple of p, and larger than |D_p| for small D_p."""
    return st.one_of(
        st.none(),
        st.sampled_from([1, p - 1, p, p + 1, 2 * p + 1, 10**7]),
        st.integers(min_value=1, max_value=50 * p),
    )
