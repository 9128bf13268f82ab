"""The smallest width known to reach gamma*, against the best proved lower bound: a question the
paper leaves open (docs/min-width.md; constructions.min_width holds the mathematics).

    from fourier_circuits.constructions.smallest_width import smallest_width
    r = smallest_width(2, p=7)         # r.smallest_design_size == r.lower_bound_per_frequency == 6
    r.as_dict()                        # what `fourier-circuits solve --min-width --json` prints

The smallest design found is the comb (constructions.designs: (k+1) 2^(k-1) points per frequency,
below the rank-1 lattice's 2 * 3^(k-1) for k >= 3; for k = 2 both have 6 and the lattice is kept)
unless an integer-program search or a tiny-p aliased design does better; it is proved exactly
(constructions.exact.prove_design: every unwanted character vanishes; for an aliased design the
exact margin over D_p); the lower bound per frequency is the largest of the clique bound and, for
k <= SDP_DEFAULT_MAX_K, the Delsarte SDP made rigorous (reduced by the symmetry S_k x {+-1} for
k >= 3, constructions.convex.delsarte), for k = 5 the stored SDP certificate re-verified
(constructions.stored_bounds, ~20 s); with p, the width (p-1)/2 times the design's size
and its brute-force margin ratio (theory.margin_report) while p^k <= BRUTE_FORCE_MAX_EXAMPLES.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from fourier_circuits.constructions.designs import (
    PhaseDesign,
    comb_design,
    lattice_design,
    paper_design,
)
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
from fourier_circuits.constructions.stored_bounds import CERTIFICATE_FILES, stored_sdp_lower_bound
from fourier_circuits.theory import (
    FourierCircuitsError,
    Task,
    gamma_star,
    jsonable,
    margin_report,
    validate_k,
)
from fourier_circuits.theory.tolerances import MARGIN_RTOL

#: Largest p^k for the brute-force margin with p (theory.margin_report over D_p).
BRUTE_FORCE_MAX_EXAMPLES = 200_000
#: Grid Z_L^k of the integer-program design search.
SEARCH_L = 6
#: Largest k whose Delsarte SDP smallest_width runs (k = 4: about 10-20 s, reduced by symmetry).
SDP_DEFAULT_MAX_K = 4
#: Largest order answered: the lattice design has 2 * 3^(k-1) points and its exact proof checks
#: every unwanted character (12,500 at k = 6, 2.6 s; the count grows about 5x per order).
MAX_K = 6


@dataclass(frozen=True)
class SmallestWidth:
    """The smallest design found per frequency, proved, beside the proved lower bound.

    search: the integer program's status, size, dual bound and seconds (empty without one);
    width and margin_ratio: with p only (margin_ratio while p^k <= BRUTE_FORCE_MAX_EXAMPLES);
    failures: the design not proved, the bound above the design, the margin ratio not 1.
    """

    k: int
    smallest_design_size: int
    design: PhaseDesign
    lower_bound_per_frequency: int | None
    lower_bound_method: str | None
    lower_bounds: tuple[LowerBound, ...]
    paper_size: int
    lattice_size: int
    comb_size: int
    proved: bool
    proof_method: str
    seconds: float
    search: dict[str, Any] = field(default_factory=dict)
    p: int | None = None
    width: int | None = None
    margin_ratio: float | None = None
    failures: tuple[str, ...] = ()
    aliased: bool = False  # terms alias at this p: the lower bound does not apply

    @property
    def holds(self) -> bool:
        return not self.failures

    @property
    def settled(self) -> bool:
        """The proved lower bound meets the proved design: the smallest width is known exactly
        (never at a p where terms alias, since the bound assumes they do not)."""
        bound = self.lower_bound_per_frequency
        return self.proved and not self.aliased and bound == self.smallest_design_size

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, with the keys of `solve --min-width`."""
        data: dict[str, Any] = {
            "k": self.k,
            "smallest_design_size": self.smallest_design_size,
            "design": {
                "name": self.design.name,
                "N": self.design.N,
                "points": [list(pt) for pt in self.design.points],
                "weights": [1.0] * self.design.size,
            },
            "lower_bound_per_frequency": self.lower_bound_per_frequency,
            "lower_bound_method": self.lower_bound_method,
            "lower_bounds": [
                {
                    "value": b.value,
                    "raw": b.raw,
                    "method": b.method,
                    "solver_status": b.solver_status,
                }
                for b in self.lower_bounds
            ],
            "lower_bound_valid_for": "every p without aliasing (all primes p >= 2k+1)",
            "paper_size": self.paper_size,
            "lattice_size": self.lattice_size,
            "comb_size": self.comb_size,
            "proved": self.proved,
            "settled": self.settled,
            "proof_method": self.proof_method,
        }
        if self.search:
            data["search"] = self.search
        if self.p is not None:
            data["p"] = self.p
            data["width"] = self.width
            if self.margin_ratio is not None:
                data["margin_ratio"] = self.margin_ratio
        data["seconds"] = self.seconds
        return dict(jsonable(data))


def smallest_width(
    k: int, *, p: int | None = None, sdp: bool = True, search_seconds: float = 0.0
) -> SmallestWidth:
    """The smallest width result for order k (and, with p, at that p); see the module docstring.

    sdp: the Delsarte SDP lower bound for k <= SDP_DEFAULT_MAX_K, and for k = 5 the stored SDP
    certificate re-verified (constructions.stored_bounds); search_seconds: the time limit
    of an integer-program search for a smaller design on the grid Z_SEARCH_L^k (0: none).
    """
    k = validate_k(k)
    if k > MAX_K:
        raise FourierCircuitsError(
            f"k={k}: the smallest-width result is computed for k <= {MAX_K} (the lattice design "
            f"has 2 * 3^(k-1) points and its proof checks every unwanted character)"
        )
    p = Task(p, k).p if p is not None else None
    if not isinstance(search_seconds, (int, float)) or not (
        math.isfinite(search_seconds) and search_seconds >= 0
    ):
        raise FourierCircuitsError(f"search_seconds={search_seconds!r} must be a number >= 0")
    start = time.perf_counter()
    bounds: list[LowerBound] = []
    if k in (2, 3, 4, 5):
        bounds.append(clique_lower_bound(k))
    if k <= min(SDP_DEFAULT_MAX_K, SDP_MAX_K) and sdp:
        bounds.append(sdp_lower_bound(k))
    elif k in CERTIFICATE_FILES and sdp:  # k = 5: the stored SDP certificate, re-verified
        bounds.append(stored_sdp_lower_bound(k))
    best_bound = max(bounds, key=lambda b: b.value, default=None)
    aliased = p is not None and frequency_collisions(p, k)[1] > 0
    lattice, comb = lattice_design(k), comb_design(k)
    design: PhaseDesign = comb if comb.size < lattice.size else lattice
    if p is not None and aliased and (p, k) in ALIASED_DESIGNS:
        design = ALIASED_DESIGNS[(p, k)]
    search: dict[str, Any] = {}
    if search_seconds > 0:
        found = search_design(k, SEARCH_L, p=p if aliased else None, time_limit=search_seconds)
        search = {
            "grid_L": SEARCH_L,
            "status": found.status,
            "outcome": found.outcome,
            "proved_optimal": found.proved_optimal,
            "size": found.size,
            "dual_bound_on_grid": found.dual_bound,
            "seconds": found.seconds,
        }
        if found.size is not None and found.size < design.size and found.status == "Optimal":
            weights = [w * found.size for w in found.weights]
            if max(abs(w - 1) for w in weights) < 1e-6:  # equal weights: an exact design
                design = PhaseDesign(f"search-L{SEARCH_L}", SEARCH_L, found.points)
    if aliased and design is not lattice and design is not comb and p is not None:
        proved = exact_normalized_margin(p, k, design).holds
        proof_method = f"exact margin over D_{p} (terms alias at this p)"
    else:
        proved, proof_method = prove_design(design).holds, "prove_design (all unwanted vanish)"
    failures = []
    if not proved:
        failures.append(f"the design {design.name!r} reaches gamma* ({proof_method})")
    if best_bound and not aliased and design.size < best_bound.value:
        failures.append(f"lower bound {best_bound.value} <= design size {design.size}")
    width = ratio = None
    if p is not None:
        width = design.size * (p - 1) // 2
        if p**k <= BRUTE_FORCE_MAX_EXAMPLES:
            ratio = margin_report(weighted_network(p, design)).normalized_margin / gamma_star(p, k)
            if abs(ratio - 1) > MARGIN_RTOL:
                failures.append(f"brute-force margin ratio is 1 (got {ratio:.12g})")
    return SmallestWidth(
        k=k,
        smallest_design_size=design.size,
        design=design,
        lower_bound_per_frequency=best_bound.value if best_bound else None,
        lower_bound_method=best_bound.method if best_bound else None,
        lower_bounds=tuple(bounds),
        paper_size=paper_design(k).size,
        lattice_size=lattice.size,
        comb_size=comb.size,
        proved=proved,
        proof_method=proof_method,
        seconds=time.perf_counter() - start,
        search=search,
        p=p,
        width=width,
        margin_ratio=ratio,
        failures=tuple(failures),
        aliased=aliased,
    )
