"""The paper's analytic max-margin network and its variants (App. G of arXiv 2402.09469).

For each frequency zeta in {1, ..., (p-1)/2} and each phase vector phi of a design, one neuron
    u_j(a) = beta cos(phi_j + 2 pi zeta a / p),
    w(c)   = beta cos(phi_1 + ... + phi_k + 2 pi zeta c / p),
beta = sqrt(2 / ((k+1) p)) so each neuron has unit norm (sum_a cos^2(phi + 2 pi zeta a/p) = p/2 for
odd p), then every weight is scaled by m^(-1/(k+1)) so that ||theta||_{2,k+1} = 1.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from fourier_circuits.constructions.designs import PhaseDesign, get_design
from fourier_circuits.theory import FourierCircuitsError, PolyNet, Task, beta, is_integer


def construct(
    p: int,
    k: int,
    design: str | PhaseDesign = "paper",
    *,
    frequencies: Iterable[int] | None = None,
) -> PolyNet:
    """The analytic network of a design, normalised to ||theta||_{2,k+1} = 1.

    frequencies: the zetas to use (default all of 1..(p-1)/2; a subset is a negative control,
    Theorem 4.1 (iii) says a max-margin network uses every frequency).
    """
    task = Task(p, k)
    d = get_design(design, task.k) if isinstance(design, str) else design
    if d.k != task.k:
        raise FourierCircuitsError(f"design {d.name!r} is for k={d.k}, not k={task.k}")
    if frequencies is None:
        zetas = task.frequencies
    else:
        chosen = sorted(set(frequencies))
        if not all(is_integer(z) for z in chosen):
            raise FourierCircuitsError(f"frequencies={chosen!r} must be integers")
        zetas = np.array(chosen, dtype=np.int64)
    if zetas.size == 0 or zetas.min() < 1 or zetas.max() > (task.p - 1) // 2:
        raise FourierCircuitsError(
            f"frequencies={zetas.tolist()} must be a non-empty subset of 1..(p-1)/2 = "
            f"1..{(task.p - 1) // 2}"
        )
    phi = d.phases  # (n, k)
    phi_w = phi.sum(axis=1)  # (n,) the phase-sum rule phi_w = phi_1 + ... + phi_k
    angle = 2 * np.pi * np.outer(zetas, np.arange(task.p)) / task.p  # (Z, p)
    # neuron index = (zeta, design point), zeta-major
    U = np.cos(phi[None, :, :, None] + angle[:, None, None, :])  # (Z, n, k, p)
    W = np.cos(phi_w[None, :, None] + angle[:, None, :])  # (Z, n, p)
    m = zetas.size * d.size
    scale = beta(task.p, task.k) * m ** (-1.0 / (task.k + 1))
    return PolyNet(
        scale * U.reshape(m, task.k, task.p),
        scale * W.reshape(m, task.p),
        {
            "made_by": "fourier_circuits.constructions.analytic.construct",
            "design": d.name,
            "design_N": d.N,
            "frequencies": zetas.tolist(),
        },
    )
