"""The maximum normalized margin for even p, bracketed as for odd p and compared with the closed
form this toolkit derives (theory.even_p, docs/even-p.md; the paper assumes p odd).

    from fourier_circuits.constructions.convex import bracket_even
    b = bracket_even(4, 3)             # b.lower_bound <= gamma*_even <= b.upper_bound
    b.as_dict()                        # what `fourier-circuits solve --p 4 --k 3 --json` prints

Lower bound: shift-reduced column generation with brute-force columns (constructions.convex.
even_p, never told the answer), the explicit orbit network's margin recomputed from its weights
(theory.even_p.brute_force_margin); upper bounds: the generalised lemma (theory.even_p.
lemma_bound) at the LP's dual q and at the q an SOCP finds without the closed form.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fourier_circuits.constructions.convex.even_p import MAX_EXAMPLES, solve_any_p
from fourier_circuits.constructions.convex.pricing import check_starts
from fourier_circuits.theory import FourierCircuitsError, jsonable, validate_k
from fourier_circuits.theory._validation import check_int, check_seed
from fourier_circuits.theory.even_p import (
    gamma_star_even,
    gamma_star_even_exact,
    optimal_even_q,
    paper_formula,
)
from fourier_circuits.theory.tolerances import GAP_TARGET, MARGIN_RTOL


def dominant_classes(neurons: np.ndarray, p: int, k: int) -> list[int]:
    """The frequency class 1..p/2 with most of each unit neuron's non-DC power (p/2: Nyquist),
    the power of j and -j folded together and summed over the neuron's k+1 vectors."""
    V = np.asarray(neurons).reshape(-1, k + 1, p)
    power = np.abs(np.fft.fft(V, axis=2)) ** 2  # (s, k+1, p)
    folded = power[:, :, 1 : p // 2 + 1].copy()
    folded[:, :, : p // 2 - 1] += power[:, :, p - 1 : p // 2 : -1]  # add -j to j
    return [int(c) + 1 for c in np.argmax(folded.sum(axis=1), axis=1)]


@dataclass(frozen=True)
class EvenBracket:
    """lower_bound <= max normalized margin <= upper_bound at even p, beside the closed form
    gamma_star (theory.even_p) and the paper's odd-p formula, which does not apply; failures:
    the closed form outside the bracket, or the gap above GAP_TARGET."""

    p: int
    k: int
    lower_bound: float
    upper_bound: float
    gamma_star: float
    gamma_star_exact: str
    support_size: int
    seconds: float
    relative_gap: float
    upper_bound_lp_dual: float
    upper_bound_optimised_q: float
    heuristic_pricing_value: float
    paper_formula: float
    iterations: int
    converged: bool
    support_frequencies: tuple[int, ...]
    q_opt_distance_from_closed_form: float
    failures: tuple[str, ...] = field(default=())

    @property
    def holds(self) -> bool:
        return not self.failures

    @property
    def paper_formula_below_lower_bound(self) -> bool:
        return self.paper_formula < self.lower_bound * (1 - MARGIN_RTOL)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, with the keys of `solve` at odd p where they mean the same."""
        return dict(
            jsonable(
                {
                    "p": self.p,
                    "k": self.k,
                    "method": "reduced, brute-force orbit margins (constructions.convex.even_p)",
                    "lower_bound": self.lower_bound,
                    "upper_bound": self.upper_bound,
                    "gamma_star": self.gamma_star,
                    "gamma_star_exact": self.gamma_star_exact,
                    "gamma_star_source": "theory.even_p closed form (this toolkit; the paper "
                    "assumes odd p)",
                    "support_size": self.support_size,
                    "seconds": self.seconds,
                    "relative_gap": self.relative_gap,
                    "lower_bound_method": "theory.even_p.brute_force_margin of the explicit "
                    "orbit network",
                    "upper_bound_method": "lemma_bound (docs/even-p.md), q optimised (SOCP)",
                    "upper_bounds": [
                        {
                            "value": self.upper_bound_lp_dual,
                            "method": "lemma_bound, q = the LP's dual",
                            "rigorous": True,
                        },
                        {
                            "value": self.upper_bound_optimised_q,
                            "method": "lemma_bound, q optimised",
                            "rigorous": True,
                        },
                    ],
                    "heuristic_pricing_value": {
                        "value": self.heuristic_pricing_value,
                        "method": "multi-start local pricing",
                        "rigorous": False,
                    },
                    "paper_formula": self.paper_formula,
                    "paper_formula_below_lower_bound": self.paper_formula_below_lower_bound,
                    "iterations": self.iterations,
                    "converged": self.converged,
                    "support_frequencies": self.support_frequencies,
                    "q_opt_distance_from_closed_form": self.q_opt_distance_from_closed_form,
                }
            )
        )


def bracket_even(p: int, k: int, *, seed: int = 0, starts: int = 10) -> EvenBracket:
    """Bracket gamma*_even(p, k) for even p >= 2 with p^k <= MAX_EXAMPLES (brute-force rows);
    seed: the random neurons' generator; starts: pricing starts per iteration."""
    k = validate_k(k)
    p = check_int("p", p, rule="an even integer (odd p: bracket)")
    if p % 2:
        raise FourierCircuitsError(f"p={p!r} must be an even integer (odd p: bracket)")
    if p < 2 or k > MAX_EXAMPLES.bit_length() or p**k > MAX_EXAMPLES:  # 2^k > MAX: no p**k
        raise FourierCircuitsError(
            f"p={p}, k={k}: the even-p route needs p >= 2 and p^k <= {MAX_EXAMPLES} (brute force)"
        )
    check_starts(starts)
    check_seed(seed)
    start = time.perf_counter()
    result = solve_any_p(p, k, rng=np.random.default_rng(seed), starts=int(starts))
    gstar = gamma_star_even(p, k)
    failures = []
    if result.lower > gstar * (1 + MARGIN_RTOL):
        failures.append(f"lower bound <= gamma*_even ({result.lower:.12g} > {gstar:.12g})")
    if result.upper < gstar * (1 - MARGIN_RTOL):
        failures.append(f"gamma*_even <= upper bound ({result.upper:.12g} < {gstar:.12g})")
    if result.relative_gap > GAP_TARGET:
        failures.append(f"relative gap <= {GAP_TARGET:g} (gap {result.relative_gap:.3g})")
    return EvenBracket(
        p=p,
        k=k,
        lower_bound=result.lower,
        upper_bound=result.upper,
        gamma_star=gstar,
        gamma_star_exact=str(gamma_star_even_exact(p, k)),
        support_size=len(result.lam),
        seconds=time.perf_counter() - start,
        relative_gap=result.relative_gap,
        upper_bound_lp_dual=result.upper_lp,
        upper_bound_optimised_q=result.upper_opt,
        heuristic_pricing_value=result.heuristic,
        paper_formula=paper_formula(p, k),
        iterations=result.iterations,
        converged=result.converged,
        support_frequencies=tuple(sorted(set(dominant_classes(result.neurons, p, k)))),
        q_opt_distance_from_closed_form=float(
            0.5 * np.abs(result.q_opt - optimal_even_q(p, k)).sum()
        ),
        failures=tuple(failures),
    )
