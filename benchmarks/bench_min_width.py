"""The slow parts of docs/min-width.md: the k = 5 Delsarte certificate and the design search.

    python benchmarks/bench_min_width.py --store [--force]   # solve k = 5 (SCS, ~10 min), store M
    python benchmarks/bench_min_width.py --search 3 17 30    # k, points, random starts [--seed S]

--store: the symmetry-reduced Delsarte SDP for k = 5 (constructions.convex.delsarte.symmetric_sdp)
by SCS (eps 1e-7, stopped at --seconds, default 600), its blocks projected onto the rows and
polished by 200 alternating projections, the rebuilt invariant M made rigorous by
min_width.delsarte_ratio, and its pair-orbit values written to constructions/delsarte_k5.npz
(constructions.stored_bounds), which smallest_width re-verifies on every use.

--search: Levenberg-Marquardt (scipy least_squares) from random starts on Re, Im mu^(v) = 0 (one v
of each pair +-v of unwanted characters) and sum w = 1 for an N-point weighted design (phases phi
(N, k), weights w = a^2); prints each start's residual and support (weights > 1e-6 of the total)
and whether the weights are equal. This is how the comb design (constructions.designs) was found.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from scipy.optimize import least_squares

from fourier_circuits.constructions.convex.delsarte import (
    compress_invariant,
    pair_orbits,
    symmetric_sdp,
)
from fourier_circuits.constructions.exact import unwanted_characters
from fourier_circuits.constructions.min_width import delsarte_ratio
from fourier_circuits.constructions.stored_bounds import (
    certificate_path,
    characters_with_zero,
    stored_sdp_lower_bound,
)


def store(seconds: float, force: bool) -> int:
    path = certificate_path(5)
    if path.exists() and not force:
        print(f"{path} exists; --force replaces it", file=sys.stderr)
        return 2
    A = characters_with_zero(5)
    V = set(unwanted_characters(5))
    options = {"eps_abs": 1e-7, "eps_rel": 1e-7, "max_iters": 10**7, "time_limit_secs": seconds}
    found = symmetric_sdp(A, V, solver="SCS", solver_options=options, polish_rounds=200)
    raw = delsarte_ratio(found.M, 5)
    print(f"SCS {found.status}, value {found.value:.6f}, {found.seconds:.0f} s; rigorous {raw:.6f}")
    values = compress_invariant(found.M, pair_orbits(A))
    np.savez_compressed(path, values=values, k=np.int64(5))
    print(f"stored {values.size} values in {path}: {stored_sdp_lower_bound(5)}")
    return 0


def search(k: int, size: int, starts: int, seed: int) -> int:
    V = np.array([v for v in unwanted_characters(k) if v > tuple(-c for c in v)], dtype=float)
    rng = np.random.default_rng(seed)

    def residual(x: np.ndarray) -> np.ndarray:
        w = x[size * k :] ** 2
        mu = w @ np.exp(1j * x[: size * k].reshape(size, k) @ V.T)  # (|V|/2,)
        return np.r_[mu.real, mu.imag, w.sum() - 1]

    def jacobian(x: np.ndarray) -> np.ndarray:
        a = x[size * k :]
        E = np.exp(1j * x[: size * k].reshape(size, k) @ V.T)  # (N, |V|/2)
        # d mu_v / d phi_ij = i w_i v_j E_iv; d mu_v / d a_i = 2 a_i E_iv
        dphi = (1j * (a * a)[:, None, None] * E[:, :, None] * V[None, :, :]).transpose(1, 0, 2)
        dphi = dphi.reshape(len(V), size * k)
        da = (2 * a[:, None] * E).T
        top = np.hstack([dphi.real, da.real])
        mid = np.hstack([dphi.imag, da.imag])
        return np.vstack([top, mid, np.r_[np.zeros(size * k), 2 * a][None, :]])

    for start in range(starts):
        t = time.perf_counter()
        x0 = np.r_[rng.uniform(0, 2 * np.pi, size * k), rng.uniform(0.7, 1.3, size) / size**0.5]
        fit = least_squares(
            residual, x0, jac=jacobian, method="lm", xtol=1e-15, ftol=1e-15, gtol=1e-15
        )
        w = fit.x[size * k :] ** 2
        w = w / w.sum()
        kept = w[w > 1e-6]
        equal = bool(np.ptp(kept) < 1e-8 * kept.max())
        print(
            f"k={k} N={size} start {start}: residual {np.linalg.norm(fit.fun):.2e}, support "
            f"{kept.size}, equal weights {equal}, {time.perf_counter() - t:.1f} s"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", action="store_true", help="solve k = 5 and store M")
    parser.add_argument("--force", action="store_true", help="replace a stored certificate")
    parser.add_argument("--seconds", type=float, default=600.0, help="SCS time limit (--store)")
    parser.add_argument("--search", type=int, nargs=3, metavar=("K", "N", "STARTS"))
    parser.add_argument("--seed", type=int, default=0, help="random starts of --search")
    args = parser.parse_args(argv)
    if args.store:
        return store(args.seconds, args.force)
    if args.search:
        return search(*args.search, args.seed)
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
