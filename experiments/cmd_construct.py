"""`fourier-circuits construct --p P --k K [--design D] [--save F.npz] [--exact]`.

Builds a design's analytic network and checks it against Theorem 4.1 by brute force over D_p:
normalized margin = gamma*, every example correct and on the margin with wrong labels tied
(the certificate pair of Def 3.5), single-frequency neurons whose phases add up, every frequency
used. --exact adds the sympy proof of the design's identity (independent of p) and, for small p,
the normalized margin in exact arithmetic.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from fourier_circuits.constructions import DESIGNS, construct, get_design
from fourier_circuits.experiments.outcome import Outcome, fmt
from fourier_circuits.experiments.provenance import provenance, require_writable_file
from fourier_circuits.theory import (
    FourierCircuitsError,
    Task,
    check_certificate,
    fourier_summary,
    judge,
    margin_report,
)
from fourier_circuits.theory.summary import network_measurements
from fourier_circuits.theory.tolerances import PHASE_ATOL

NAME = "construct"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--p", type=int, required=True, help="odd modulus p >= 3")
    parser.add_argument("--k", type=int, required=True, help="number of summands k >= 2")
    parser.add_argument(
        "--design", choices=sorted(DESIGNS), default="paper", help="phase design (default: paper)"
    )
    parser.add_argument("--save", metavar="F.npz", help="save the network (DESIGN.md format)")
    parser.add_argument(
        "--exact", action="store_true", help="also prove the construction exactly (sympy)"
    )


def _exact_checks(p: int, k: int, design: str) -> tuple[dict[str, Any], list[str]]:
    """The p-independent identity proof, and the exact margin when p^k is small enough."""
    from fourier_circuits.constructions import exact

    proof = exact.prove_design(get_design(design, k))
    data: dict[str, Any] = {
        "exact_identity_holds": proof.holds,
        "exact_characters_checked": proof.n_characters,
        "exact_coefficient": str(proof.c),
    }
    failures = [] if proof.holds else [f"design {design!r} identity (unwanted characters survive)"]
    try:
        margin = exact.exact_normalized_margin(p, k, design)
    except FourierCircuitsError as err:
        data["exact_margin"] = None
        data["exact_margin_note"] = f"not computed: {err}"
        return data, failures
    data["exact_margin"] = str(margin.normalized_margin)
    data["exact_margin_equals_gamma_star"] = margin.equals_gamma_star
    if not margin.equals_gamma_star:
        failures.append("exact normalized margin = gamma*")
    return data, failures


def run(args: argparse.Namespace) -> Outcome:
    task = Task(args.p, args.k)
    save = require_writable_file(args.save) if args.save else None
    start = time.perf_counter()
    net = construct(task.p, task.k, args.design)
    report = margin_report(net)
    fourier = fourier_summary(net)
    certificate = check_certificate(net, report=report)
    seconds = time.perf_counter() - start
    data: dict[str, Any] = {
        "p": task.p,
        "k": task.k,
        "prime": task.prime,
        "design": args.design,
        "width": net.m,
        "normalized_margin": report.normalized_margin,
        "gamma_star": report.gamma_star,
        "relative_error": report.relative_error,
        "all_correct": report.all_correct,
        "all_on_margin": report.all_on_margin,
        "wrong_labels_tied": report.wrong_labels_tied,
        "certificate_holds": certificate.holds,
        "frequencies_covered": fourier.frequencies_covered,
        "max_normalized_power_median": fourier.max_normalized_power_median,
        "max_phase_sum_residual": fourier.max_phase_residual,
        "n_examples": report.n_examples,
        "seconds": seconds,
    }
    # Theorem 4.1 (theory.judge: margin = gamma* to MARGIN_RTOL, all correct, single-frequency
    # neurons, every frequency), then what the construction (App. G) adds: Def 3.5's pair, and
    # phases that add up exactly.
    failures = judge(network_measurements(report, fourier), regime="max_margin").failures
    if not certificate.holds:
        failures.append("certificate pair of Def 3.5 (all on the margin, wrong labels tied)")
    if fourier.max_phase_residual > PHASE_ATOL:
        failures.append("phases add up (phi_1 + ... + phi_k = phi_w)")
    if args.exact:
        exact_data, exact_failures = _exact_checks(task.p, task.k, args.design)
        data.update(exact_data)
        failures += exact_failures
    if save is not None:
        net.with_meta(**provenance(command="construct", design=args.design)).save(save)
        data["saved"] = str(save)
    rows = [(key, fmt(value)) for key, value in data.items()]
    if not task.prime:
        rows.append(("note", f"p={task.p} is not prime: outside the paper's assumption"))
    return Outcome(data, rows, failures)
