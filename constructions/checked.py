"""A phase design's analytic network, built and checked against the theorem (what `construct`
prints).

    from fourier_circuits.constructions.checked import check_construction
    c = check_construction(7, 3, "lattice", exact=True)
    c.holds, c.failures, c.as_dict()

By brute force over D_p (theory.margin_report): normalized margin = gamma* and the other claims of
Theorem 4.1 of arXiv 2402.09469 (theory.judge, regime "max_margin"), then what the construction
(App. G) adds: every example on the margin with wrong labels tied (the certificate pair of Def 3.5)
and phases that add up exactly. With exact=True also the design's identity proved symbolically
(constructions.exact.prove_design, independent of p) and, for small p, the normalized margin in
exact arithmetic (constructions.exact.exact_normalized_margin).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from fourier_circuits.constructions.analytic import construct, require_network
from fourier_circuits.constructions.designs import design_size, get_design
from fourier_circuits.constructions.exact import exact_normalized_margin, prove_design
from fourier_circuits.theory import (
    FourierCircuitsError,
    PolyNet,
    Task,
    check_certificate,
    fourier_summary,
    jsonable,
    judge,
    margin_report,
)
from fourier_circuits.theory.evaluation import require_evaluation
from fourier_circuits.theory.summary import network_measurements
from fourier_circuits.theory.tolerances import PHASE_ATOL


@dataclass(frozen=True)
class ExactCheck:
    """The design's identity (every unwanted character vanishes) and, when computed, the exact
    normalized margin; margin None with `note` saying why it was not computed."""

    identity_holds: bool
    characters_checked: int
    coefficient: str
    margin: str | None
    equals_gamma_star: bool | None
    note: str | None = None


@dataclass(frozen=True)
class ConstructionCheck:
    """The network of `design` at (p, k) and what brute force over D_p measured on it."""

    p: int
    k: int
    prime: bool
    design: str
    width: int
    normalized_margin: float
    gamma_star: float
    relative_error: float
    all_correct: bool
    all_on_margin: bool
    wrong_labels_tied: bool
    certificate_holds: bool
    frequencies_covered: float
    max_normalized_power_median: float
    max_phase_sum_residual: float
    n_examples: int
    seconds: float
    exact: ExactCheck | None = None
    failures: tuple[str, ...] = ()
    network: PolyNet | None = field(default=None, repr=False, compare=False)

    @property
    def holds(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, with the keys of `construct` (the exact ones prefixed exact_)."""
        data = {
            name: getattr(self, name)
            for name in self.__dataclass_fields__
            if name not in ("exact", "failures", "network")
        }
        e = self.exact
        if e is not None:
            data |= {
                "exact_identity_holds": e.identity_holds,
                "exact_characters_checked": e.characters_checked,
                "exact_coefficient": e.coefficient,
                "exact_margin": e.margin,
            }
            if e.note is not None:
                data["exact_margin_note"] = e.note
            else:
                data["exact_margin_equals_gamma_star"] = e.equals_gamma_star
        return dict(jsonable(data))


def _exact(p: int, k: int, design: str) -> tuple[ExactCheck, list[str]]:
    """The p-independent identity proof, and the exact margin when p^k is small enough."""
    proof = prove_design(get_design(design, k))
    failures = [] if proof.holds else [f"design {design!r} identity (unwanted characters survive)"]
    try:
        margin = exact_normalized_margin(p, k, design)
    except FourierCircuitsError as err:
        note = f"not computed: {err}"
        return ExactCheck(proof.holds, proof.n_characters, str(proof.c), None, None, note), failures
    if not margin.equals_gamma_star:
        failures.append("exact normalized margin = gamma*")
    exact = ExactCheck(
        proof.holds,
        proof.n_characters,
        str(proof.c),
        str(margin.normalized_margin),
        margin.equals_gamma_star,
    )
    return exact, failures


def check_construction(
    p: int, k: int, design: str = "paper", *, exact: bool = False
) -> ConstructionCheck:
    """Build `design`'s network at (p, k) and check it (see the module docstring).

    Refused before anything is built (theory.budget) when D_p is too large to enumerate, the
    network (width |design| (p-1)/2) would not fit in memory, or the pass over D_p would not
    finish within the time limit (theory.evaluation.require_evaluation: about 2 p^k m p flop)."""
    task = Task(p, k)
    m = design_size(design, task.k) * ((task.p - 1) // 2)
    require_evaluation(m, task.k, task.p)
    require_network(m, task.k, task.p, what="check_construction")
    start = time.perf_counter()
    net = construct(task.p, task.k, design)
    report = margin_report(net)
    fourier = fourier_summary(net)
    certificate = check_certificate(net, report=report)
    seconds = time.perf_counter() - start
    failures = judge(network_measurements(report, fourier), regime="max_margin").failures
    if not certificate.holds:
        failures.append("certificate pair of Def 3.5 (all on the margin, wrong labels tied)")
    if fourier.max_phase_residual > PHASE_ATOL:
        failures.append("phases add up (phi_1 + ... + phi_k = phi_w)")
    exact_check = None
    if exact:
        exact_check, exact_failures = _exact(task.p, task.k, design)
        failures += exact_failures
    return ConstructionCheck(
        p=task.p,
        k=task.k,
        prime=task.prime,
        design=design,
        width=net.m,
        normalized_margin=report.normalized_margin,
        gamma_star=report.gamma_star,
        relative_error=report.relative_error,
        all_correct=report.all_correct,
        all_on_margin=report.all_on_margin,
        wrong_labels_tied=report.wrong_labels_tied,
        certificate_holds=certificate.holds,
        frequencies_covered=fourier.frequencies_covered,
        max_normalized_power_median=fourier.max_normalized_power_median,
        max_phase_sum_residual=fourier.max_phase_residual,
        n_examples=report.n_examples,
        seconds=seconds,
        exact=exact_check,
        failures=tuple(failures),
        network=net,
    )
