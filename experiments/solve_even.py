"""`fourier-circuits solve --p P --k K` for even P: the maximum margin where the paper gives no
closed form, bracketed by constructions.convex.even_p and compared with theory.even_p's closed
form (docs/even-p.md). Same keys as solve; gamma_star is the even-p closed form, and
`odd_formula` shows that the paper's formula does not apply."""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from fourier_circuits.constructions.convex.even_p import MAX_EXAMPLES, solve_any_p
from fourier_circuits.experiments.outcome import Outcome, fmt
from fourier_circuits.theory import FourierCircuitsError, validate_k
from fourier_circuits.theory.even_p import (
    gamma_star_even,
    gamma_star_even_exact,
    optimal_even_q,
    paper_formula,
)
from fourier_circuits.theory.tolerances import GAP_TARGET, MARGIN_RTOL


def dominant_classes(neurons: np.ndarray, p: int, k: int) -> list[int]:
    """The frequency class 1..p/2 with most of each unit neuron's non-DC power (p/2: Nyquist)."""
    V = np.asarray(neurons).reshape(-1, k + 1, p)
    power = np.abs(np.fft.fft(V, axis=2)) ** 2  # (s, k+1, p)
    folded = power[:, :, 1 : p // 2 + 1].copy()
    folded[:, :, : p // 2 - 1] += power[:, :, p - 1 : p // 2 : -1]  # add -j to j
    return [int(c) + 1 for c in np.argmax(folded.sum(axis=1), axis=1)]


def run(args: argparse.Namespace) -> Outcome:
    p, k = int(args.p), validate_k(args.k)
    refused = [flag for flag, on in (("--save", args.save), ("--sparsify", args.sparsify)) if on]
    if args.method != "reduced":
        refused.append(f"--method {args.method}")
    if refused:
        raise FourierCircuitsError(
            f"p={p} is even: {', '.join(refused)} not available (the even-p route brackets "
            "gamma* only; docs/even-p.md)"
        )
    if p < 2 or p**k > MAX_EXAMPLES:
        raise FourierCircuitsError(
            f"p={p}, k={k}: the even-p route needs p >= 2 and p^k <= {MAX_EXAMPLES} (brute force)"
        )
    if args.starts < 1:
        raise FourierCircuitsError(f"--starts={args.starts} must be a positive integer")
    start = time.perf_counter()
    result = solve_any_p(p, k, rng=np.random.default_rng(args.seed), starts=args.starts)
    gstar = gamma_star_even(p, k)
    paper = paper_formula(p, k)
    data: dict[str, Any] = {
        "p": p,
        "k": k,
        "method": "reduced, brute-force orbit margins (constructions.convex.even_p)",
        "lower_bound": result.lower,
        "upper_bound": result.upper,
        "gamma_star": gstar,
        "gamma_star_exact": str(gamma_star_even_exact(p, k)),
        "gamma_star_source": "theory.even_p closed form (this toolkit; the paper assumes odd p)",
        "support_size": len(result.lam),
        "seconds": time.perf_counter() - start,
        "relative_gap": result.relative_gap,
        "lower_bound_method": "theory.even_p.brute_force_margin of the explicit orbit network",
        "upper_bound_method": "lemma_bound (docs/even-p.md), q optimised (SOCP)",
        "upper_bounds": [
            {
                "value": result.upper_lp,
                "method": "lemma_bound, q = the LP's dual",
                "rigorous": True,
            },
            {"value": result.upper_opt, "method": "lemma_bound, q optimised", "rigorous": True},
        ],
        "heuristic_pricing_value": {
            "value": result.heuristic,
            "method": "multi-start local pricing",
            "rigorous": False,
        },
        "paper_formula": paper,
        "paper_formula_below_lower_bound": paper < result.lower * (1 - MARGIN_RTOL),
        "iterations": result.iterations,
        "converged": result.converged,
        "support_frequencies": sorted(set(dominant_classes(result.neurons, p, k))),
        "q_opt_distance_from_closed_form": float(
            0.5 * np.abs(result.q_opt - optimal_even_q(p, k)).sum()
        ),
    }
    failures = []
    if result.lower > gstar * (1 + MARGIN_RTOL):
        failures.append(f"lower bound <= gamma*_even ({result.lower:.12g} > {gstar:.12g})")
    if result.upper < gstar * (1 - MARGIN_RTOL):
        failures.append(f"gamma*_even <= upper bound ({result.upper:.12g} < {gstar:.12g})")
    if result.relative_gap > GAP_TARGET:
        failures.append(f"relative gap <= {GAP_TARGET:g} (gap {result.relative_gap:.3g})")
    rows = [(key, fmt(value)) for key, value in data.items() if key != "upper_bounds"]
    return Outcome(data, rows, failures)
