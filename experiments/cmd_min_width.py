"""`fourier-circuits solve --min-width --k K [--p P] [--search-seconds S] [--no-sdp]`.

The smallest width known to reach gamma* against the best proved lower bound (docs/min-width.md):
the smallest design found (the rank-1 lattice, unless a search or a tiny-p aliased design does
better), its exact proof (constructions.exact.prove_design; for an aliased design the exact
margin over D_p), the lower bound per frequency (clique and, for k <= 3, Delsarte SDP), and with
--p the width and the brute-force margin ratio (theory.margin_report).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from fourier_circuits.constructions.designs import PhaseDesign, lattice_design, paper_design
from fourier_circuits.constructions.exact import exact_normalized_margin, prove_design
from fourier_circuits.constructions.min_width import (
    ALIASED_DESIGNS,
    SDP_MAX_K,
    LowerBound,
    clique_lower_bound,
    frequency_collisions,
    sdp_lower_bound,
    search_design,
    weighted_network,
)
from fourier_circuits.experiments.outcome import Outcome, fmt
from fourier_circuits.theory import (
    FourierCircuitsError,
    Task,
    gamma_star,
    margin_report,
    validate_k,
)
from fourier_circuits.theory.tolerances import MARGIN_RTOL

#: Largest p^k for the brute-force margin of --p (theory.margin_report over D_p).
BRUTE_FORCE_MAX_EXAMPLES = 200_000
#: Grid Z_L^k of the --search-seconds integer program.
SEARCH_L = 6


def run(args: argparse.Namespace) -> Outcome:
    k = validate_k(args.k)
    p = Task(args.p, k).p if args.p is not None else None
    if args.search_seconds < 0:
        raise FourierCircuitsError(f"--search-seconds={args.search_seconds} must be >= 0")
    start = time.perf_counter()
    bounds: list[LowerBound] = []
    if k in (2, 3, 4, 5):
        bounds.append(clique_lower_bound(k))
    if k <= SDP_MAX_K and not args.no_sdp:
        bounds.append(sdp_lower_bound(k))
    best_bound = max(bounds, key=lambda b: b.value, default=None)
    aliased = p is not None and frequency_collisions(p, k)[1] > 0
    design: PhaseDesign = lattice_design(k)
    if p is not None and aliased and (p, k) in ALIASED_DESIGNS:
        design = ALIASED_DESIGNS[(p, k)]
    search: dict[str, Any] = {}
    if args.search_seconds > 0:
        found = search_design(k, SEARCH_L, p=p if aliased else None, time_limit=args.search_seconds)
        search = {
            "grid_L": SEARCH_L,
            "status": found.status,
            "size": found.size,
            "dual_bound_on_grid": found.dual_bound,
            "seconds": found.seconds,
        }
        if found.size is not None and found.size < design.size and found.status == "Optimal":
            weights = [w * found.size for w in found.weights]
            if max(abs(w - 1) for w in weights) < 1e-6:  # equal weights: an exact design
                design = PhaseDesign(f"search-L{SEARCH_L}", SEARCH_L, found.points)
    if aliased and design.name != "lattice" and p is not None:
        exact = exact_normalized_margin(p, k, design)
        proved, proof_method = exact.holds, f"exact margin over D_{p} (terms alias at this p)"
    else:
        proved, proof_method = prove_design(design).holds, "prove_design (all unwanted vanish)"
    data: dict[str, Any] = {
        "k": k,
        "smallest_design_size": design.size,
        "design": {
            "name": design.name,
            "N": design.N,
            "points": [list(pt) for pt in design.points],
            "weights": [1.0] * design.size,
        },
        "lower_bound_per_frequency": best_bound.value if best_bound else None,
        "lower_bound_method": best_bound.method if best_bound else None,
        "lower_bounds": [{"value": b.value, "raw": b.raw, "method": b.method} for b in bounds],
        "lower_bound_valid_for": "every p without aliasing (all primes p >= 2k+1)",
        "paper_size": paper_design(k).size,
        "lattice_size": lattice_design(k).size,
        "proved": proved,
        "proof_method": proof_method,
    }
    if search:
        data["search"] = search
    failures = []
    if not proved:
        failures.append(f"the design {design.name!r} reaches gamma* ({proof_method})")
    if best_bound and not aliased and design.size < best_bound.value:
        failures.append(f"lower bound {best_bound.value} <= design size {design.size}")
    if p is not None:
        data["p"] = p
        data["width"] = design.size * (p - 1) // 2
        if p**k <= BRUTE_FORCE_MAX_EXAMPLES:
            ratio = margin_report(weighted_network(p, design)).normalized_margin / gamma_star(p, k)
            data["margin_ratio"] = ratio
            if abs(ratio - 1) > MARGIN_RTOL:
                failures.append(f"brute-force margin ratio is 1 (got {ratio:.12g})")
    data["seconds"] = time.perf_counter() - start
    rows = [(key, fmt(value)) for key, value in data.items() if key not in ("design", "search")]
    rows.append(("design points", fmt([str(pt) for pt in design.points])))
    return Outcome(data, rows, failures)
