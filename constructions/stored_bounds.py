"""Delsarte lower bounds from stored certificates, for k where the SDP takes too long to solve on
demand (docs/min-width.md). k = 5: the reduced SDP (constructions.convex.delsarte: blocks of at
most 86 x 86, 530 rows) stops in Clarabel at a numerical error (11 iterations, ~400 s), and SCS
(eps 1e-7) is still inaccurate at its 600 s limit; its blocks, projected onto the rows and
polished by 200 alternating projections, give F(0)/F_0 = 92.197 after the rigorous repair, so
N >= 93. `python benchmarks/bench_min_width.py --store` redoes this and writes the file.

The certificate is the invariant Gram matrix M itself, one float64 per orbit of G = S_k x {+-1}
on unordered pairs of A = V u {0} (constructions.convex.delsarte.pair_orbits), so nothing about
its origin is trusted: it is expanded to the full (n, n) M and min_width.delsarte_ratio makes any
symmetric M rigorous (residual coefficients outside V u {0} subtracted, n max(0, -lambda_min)
and their absolute sum added), exactly as for a freshly solved M. A forged file can only lower the
bound (tests/test_min_width.py).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from fourier_circuits.constructions.convex.delsarte import expand_invariant, pair_orbits
from fourier_circuits.constructions.exact import unwanted_characters
from fourier_circuits.constructions.min_width import SDP_PAD, LowerBound, delsarte_ratio
from fourier_circuits.theory import FloatArray, FourierCircuitsError, validate_k

#: Stored certificates: k -> file next to this module (an .npz with `values` and `k`).
CERTIFICATE_FILES: dict[int, str] = {5: "delsarte_k5.npz"}


def certificate_path(k: int) -> Path:
    """Where the certificate for k is stored (the file need not exist yet)."""
    k = validate_k(k)
    if k not in CERTIFICATE_FILES:
        raise FourierCircuitsError(
            f"k={k}: Delsarte certificates are stored for k in {sorted(CERTIFICATE_FILES)}"
        )
    return Path(__file__).with_name(CERTIFICATE_FILES[k])


def characters_with_zero(k: int) -> np.ndarray:
    """A = V u {0} in the index order of min_width._outside_entries: 0, then V sorted."""
    return np.array([(0,) * k, *sorted(unwanted_characters(k))], dtype=np.int64)


def invariant_matrix(k: int, values: FloatArray) -> FloatArray:
    """The (n, n) invariant M with the given pair-orbit values (refused if the count is wrong)."""
    labels = pair_orbits(characters_with_zero(k))
    return expand_invariant(values, labels)


def load_certificate(k: int) -> FloatArray:
    """The stored pair-orbit values for k (a FourierCircuitsError if the file is missing or not
    a certificate for this k)."""
    path = certificate_path(k)
    if not path.is_file():
        raise FourierCircuitsError(f"no stored Delsarte certificate for k={k} at {path}")
    with np.load(path) as data:
        if "values" not in data or int(data["k"]) != k:
            raise FourierCircuitsError(f"{path} is not a Delsarte certificate for k={k}")
        return np.asarray(data["values"], dtype=float)


def stored_sdp_lower_bound(k: int, values: FloatArray | None = None) -> LowerBound:
    """The bound of the stored certificate for k (or of `values`, e.g. a forged one), recomputed
    from the expanded M by delsarte_ratio: F~(0) / F~_0, rounded up after subtracting SDP_PAD."""
    k = validate_k(k)
    start = time.perf_counter()
    vals = load_certificate(k) if values is None else np.asarray(values, dtype=float)
    M = invariant_matrix(k, vals)
    raw = delsarte_ratio(M, k)
    method = (
        f"Delsarte SDP over V u {{0}}, reduced by S_{k} x {{+-1}}, stored certificate "
        f"({vals.size} pair-orbit values of M, solved offline by SCS); bound re-verified from the "
        f"full M ({time.perf_counter() - start:.1f} s)"
    )
    return LowerBound(k, math.ceil(raw - SDP_PAD), method, raw, "stored")
