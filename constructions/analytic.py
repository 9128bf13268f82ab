"""The paper's analytic max-margin network and its variants (App. G of arXiv 2402.09469).

For each frequency zeta in {1, ..., (p-1)/2} and each phase vector phi of a design, one neuron
    u_j(a) = beta cos(phi_j + 2 pi zeta a / p),
    w(c)   = beta cos(phi_1 + ... + phi_k + 2 pi zeta c / p),
beta = sqrt(2 / ((k+1) p)) so each neuron has unit norm (sum_a cos^2(phi + 2 pi zeta a/p) = p/2 for
odd p), then every weight is scaled by m^(-1/(k+1)) so that ||theta||_{2,k+1} = 1.

Memory, refused up front (theory.budget) before the design's points or any weight exist: the
width is m = |design| x |frequencies| and the network holds m (k+1) p float64 twice while it is
built (the cosines, then PolyNet's validated copy): network_bytes(m, k, p) = 2 x 8 m (k+1) p.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

import fourier_circuits.theory.budget as budget
from fourier_circuits.constructions.designs import (
    LOG2_SIZES,
    PhaseDesign,
    design_size,
    get_design,
)
from fourier_circuits.theory import FourierCircuitsError, PolyNet, Task, beta, is_integer


def network_bytes(m: int, k: int, p: int) -> int:
    """2 x 8 m (k+1) p: the bytes a width-m network holds at its peak while it is built."""
    return 2 * 8 * m * (k + 1) * p


def require_network(m: int, k: int, p: int, *, what: str) -> None:
    """Refuse a network of width m that would not fit in memory (network_bytes)."""
    budget.require_memory(
        f"{what}: U (m, k, p) = ({m}, {k}, {p}) and W (m, p), float64, twice while built",
        network_bytes(m, k, p),
        fix="choose a smaller p, k or design",
    )


def _frequencies(frequencies: Iterable[int] | None, task: Task) -> np.ndarray:
    """The zetas to use, validated: integers in 1..(p-1)/2, at least one."""
    h = (task.p - 1) // 2
    if frequencies is None:
        return task.frequencies
    if isinstance(frequencies, (str, bytes)) or not isinstance(frequencies, Iterable):
        raise FourierCircuitsError(
            f"frequencies={frequencies!r} must be a collection of integers in 1..(p-1)/2 = 1..{h}"
        )
    chosen = list(frequencies)
    if not all(is_integer(z) for z in chosen):
        raise FourierCircuitsError(f"frequencies={chosen!r} must be integers")
    zetas = np.array(sorted({int(z) for z in chosen}), dtype=np.int64)
    if zetas.size == 0 or zetas.min() < 1 or zetas.max() > h:
        raise FourierCircuitsError(
            f"frequencies={zetas.tolist()} must be a non-empty subset of 1..(p-1)/2 = 1..{h}"
        )
    return zetas


def construct(
    p: int,
    k: int,
    design: str | PhaseDesign = "paper",
    *,
    frequencies: Iterable[int] | None = None,
) -> PolyNet:
    """The analytic network of a design, normalised to ||theta||_{2,k+1} = 1.

    frequencies: the zetas to use (default all of 1..(p-1)/2; a subset is a negative control,
    Theorem 4.1 (iii) says a max-margin network uses every frequency). Refused before anything
    is built when the network would not fit in memory (module docstring).
    """
    task = Task(p, k)
    if isinstance(design, str):
        if design in LOG2_SIZES and frequencies is None:
            # the width m = |design| (p-1)/2 from closed forms, before the design is built
            log2_m = LOG2_SIZES[design](task.k) + math.log2((task.p - 1) // 2)
            budget.require_memory_log10(
                f"construct: the {design!r} network of width m = 2^{log2_m:.4g}, U (m, k, p) "
                f"and W (m, p) for p={task.p}, k={task.k}, float64, twice while built",
                log2_m * math.log10(2) + math.log10(network_bytes(1, task.k, task.p)),
                fix="choose a smaller p, k or design",
            )
        design_size(design, task.k)  # refuses an unknown name and a design too large to build
        d = get_design(design, task.k)
    elif isinstance(design, PhaseDesign):
        d = design
    else:
        raise FourierCircuitsError(
            f"design={design!r} must be a design name ({', '.join(sorted(LOG2_SIZES))}) or a "
            "constructions.PhaseDesign"
        )
    if d.k != task.k:
        raise FourierCircuitsError(f"design {d.name!r} is for k={d.k}, not k={task.k}")
    zetas = _frequencies(frequencies, task)
    m = zetas.size * d.size
    require_network(m, task.k, task.p, what="construct")
    phi = d.phases  # (n, k)
    phi_w = phi.sum(axis=1)  # (n,) the phase-sum rule phi_w = phi_1 + ... + phi_k
    angle = 2 * np.pi * np.outer(zetas, np.arange(task.p)) / task.p  # (Z, p)
    # neuron index = (zeta, design point), zeta-major
    U = np.cos(phi[None, :, :, None] + angle[:, None, None, :])  # (Z, n, k, p)
    W = np.cos(phi_w[None, :, None] + angle[:, None, :])  # (Z, n, p)
    scale = beta(task.p, task.k) * m ** (-1.0 / (task.k + 1))
    U *= scale  # in place: the same products as scale * U, one copy fewer
    W *= scale
    return PolyNet(
        U.reshape(m, task.k, task.p),
        W.reshape(m, task.p),
        {
            "made_by": "fourier_circuits.constructions.analytic.construct",
            "design": d.name,
            "design_N": d.N,
            "frequencies": zetas.tolist(),
        },
    )
