"""verify's symbolic route: every phase design's identity proved for every p, and the
construction's normalized margin in exact arithmetic equal to sympy's gamma*."""

from __future__ import annotations

import time

from fourier_circuits.constructions import DESIGNS, get_design
from fourier_circuits.constructions.exact import exact_normalized_margin, prove_design
from fourier_circuits.experiments.verify.claims import Check
from fourier_circuits.experiments.verify.runner import attempt, command, failed, subject
from fourier_circuits.theory import gamma_star_exact


def design_checks(k: int) -> list[Check]:
    """Every registered phase design's identity, proved exactly (for every p at once)."""
    checks = []
    for name in sorted(DESIGNS):
        start = time.perf_counter()
        design = get_design(name, k)
        proof = prove_design(design)
        numbers = {
            "design": name,
            "points": len(design.points),
            "characters": proof.n_characters,
            "coefficient": str(proof.c),
            "holds": proof.holds,
        }
        checks.append(
            Check(
                "construction",
                "symbolic",
                f"design {name}, k={k}",
                command(["construct", "--p", "3", "--k", str(k), "--design", name, "--exact"]),
                numbers,
                proof.holds,
                "" if proof.holds else "unwanted characters survive",
                time.perf_counter() - start,
                ("points", "characters", "coefficient"),
                k=k,
            )
        )
    return checks


def exact_checks(p: int, k: int) -> list[Check]:
    """The paper's construction's normalized margin in exact arithmetic is gamma*."""
    argv = ["construct", "--p", str(p), "--k", str(k), "--exact"]
    margin, error, s = attempt(lambda: exact_normalized_margin(p, k, "paper"))
    if margin is None:
        return [failed("max_margin", "symbolic", subject(p, k), argv, error, s, p=p, k=k)]
    numbers = {
        "exact_margin": str(margin.normalized_margin),
        "gamma_star_exact": str(gamma_star_exact(p, k)),
        "equal": margin.equals_gamma_star,
        "width": margin.m,
    }
    holds = bool(margin.equals_gamma_star)
    why = "" if holds else "exact margin != gamma*"
    shown = ("exact_margin", "gamma_star_exact", "equal")
    return [
        Check(
            "max_margin",
            "symbolic",
            subject(p, k),
            command(argv),
            numbers,
            holds,
            why,
            s,
            shown,
            p,
            k,
        )
    ]
