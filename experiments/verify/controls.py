"""verify's negative controls: each checker of the claims, fed a deliberately false input,
must reject it (a check that cannot fail proves nothing; STYLE.md, Tests)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from fourier_circuits.experiments.verify.claims import Check
from fourier_circuits.experiments.verify.empirical import noise_threshold
from fourier_circuits.experiments.verify.runner import attempt, command
from fourier_circuits.theory import width_bound
from fourier_circuits.theory.tolerances import MARGIN_RATIO_CLAIM, MARGIN_RTOL


def _control(
    subject: str, command: str, run: Callable[[], tuple[bool, dict[str, Any], str]]
) -> Check:
    """A negative control: run() feeds a false input to a checker and says if it was rejected."""
    start = time.perf_counter()
    rejected, numbers, what = run()
    rejected = bool(rejected)  # numpy comparisons give numpy booleans
    numbers = {**numbers, "rejected": rejected}
    why = "" if rejected else f"the checker accepted a false input: {what}"
    return Check(
        "negative_controls",
        "control",
        subject,
        command,
        numbers,
        rejected,
        why,
        time.perf_counter() - start,
        tuple(numbers),
    )


def control_checks(seed: int) -> list[Check]:
    """Each checker of the claims above, fed a deliberately false input."""
    from fourier_circuits.constructions import construct, get_design
    from fourier_circuits.constructions.convex import symmetric_q_bound
    from fourier_circuits.constructions.designs import PhaseDesign
    from fourier_circuits.constructions.exact import prove_design
    from fourier_circuits.theory import PolyNet, fourier_summary, gamma_star, margin_report

    def broken_design() -> tuple[bool, dict[str, Any], str]:
        paper = get_design("paper", 3)
        broken = PhaseDesign("paper-minus-one", paper.N, paper.points[1:])
        proof = prove_design(broken)
        numbers = {"points": len(broken.points), "identity_holds": proof.holds}
        return not proof.holds, numbers, "a design missing a point"

    def missing_frequency() -> tuple[bool, dict[str, Any], str]:
        p, k = 11, 3
        net = construct(p, k, frequencies=range(1, (p - 1) // 2))
        report = margin_report(net)
        cover = fourier_summary(net).frequencies_covered
        numbers = {"margin_ratio": report.margin_ratio, "frequencies_covered": cover}
        rejected = report.margin_ratio < 1 - MARGIN_RTOL and cover < 1
        return rejected, numbers, "the paper's network without frequency 5"

    def missing_neuron() -> tuple[bool, dict[str, Any], str]:
        net = construct(11, 3)
        smaller = PolyNet(net.U[1:], net.W[1:])
        report = margin_report(smaller)
        numbers = {"width": smaller.m, "margin_ratio": report.margin_ratio}
        return report.margin_ratio < 1 - MARGIN_RTOL, numbers, "a width below the bound"

    def random_network() -> tuple[bool, dict[str, Any], str]:
        rng = np.random.default_rng(seed)
        p, k = 11, 3
        m = width_bound(p, k)
        net = PolyNet(rng.normal(size=(m, k, p)), rng.normal(size=(m, p)))
        ratio = margin_report(net).margin_ratio
        return ratio < MARGIN_RATIO_CLAIM, {"margin_ratio": ratio}, "a random network"

    def short_training() -> tuple[bool, dict[str, Any], str]:
        from fourier_circuits.constructions.trained import TrainConfig, train

        result, error, _ = attempt(lambda: train(TrainConfig(p=13, k=2, steps=50, seed=seed)))
        if result is None:
            return False, {"error": error}, "a 50-step training run"
        failures = result.failures(MARGIN_RATIO_CLAIM)
        numbers = {"margin_ratio": result.final.margin_ratio, "failed": failures}
        return bool(failures), numbers, "a 50-step training run"

    def wrong_q() -> tuple[bool, dict[str, Any], str]:
        p, k = 7, 3
        q = np.zeros(p - 1)
        q[0] = 1.0  # all weight on y - c = 1: not the dual optimum
        bound = symmetric_q_bound(q, p, k).value
        numbers = {"bound": bound, "gamma_star": gamma_star(p, k)}
        return bound > gamma_star(p, k) * (1 + 1e-3), numbers, "a wrong dual q"

    def forged_sos() -> tuple[bool, dict[str, Any], str]:
        from dataclasses import replace

        from fourier_circuits.constructions.convex import certify_sos, sos_certificate

        cert = sos_certificate(5)
        forged = certify_sos(replace(cert, t=0.99 * cert.t))  # claims a 1% smaller bound
        numbers = {
            "claimed_t": 0.99 * cert.t,
            "accepted": forged.accepts(),
            "bound_after_repair": forged.bound.value,
            "gamma_star": gamma_star(5, 3),
        }
        rejected = not forged.accepts() and forged.bound.value >= gamma_star(5, 3) * (1 - 1e-9)
        return rejected, numbers, "an SOS certificate with t lowered by 1%"

    def below_lower_bound() -> tuple[bool, dict[str, Any], str]:
        from fourier_circuits.constructions.min_width import clique_lower_bound, weighted_network

        lattice = get_design("lattice", 2)
        five = PhaseDesign("lattice-minus-one", lattice.N, lattice.points[1:])
        proof = prove_design(five)
        ratio = margin_report(weighted_network(7, five)).normalized_margin / gamma_star(7, 2)
        bound = clique_lower_bound(2).value
        numbers: dict[str, Any] = {"points": five.size, "lower_bound": bound}
        numbers |= {"identity_holds": proof.holds, "margin_ratio": ratio}
        rejected = not proof.holds and ratio < 1 - MARGIN_RTOL and five.size < bound
        return rejected, numbers, "a 5-point design for k = 2"

    def noise_attention() -> tuple[bool, dict[str, Any], str]:
        from fourier_circuits.theory import attention_fourier_concentration

        p = 11
        noise = np.random.default_rng(seed + 1).standard_normal((p, p))
        concentration = attention_fourier_concentration(noise)
        threshold = noise_threshold(p, 4, seed)
        numbers = {"attention_fourier_concentration": concentration, "threshold": threshold}
        return concentration <= threshold, numbers, "a Gaussian noise matrix"

    def odd_dual_at_even_p() -> tuple[bool, dict[str, Any], str]:
        from fourier_circuits.theory.even_p import gamma_star_even, lemma_bound

        p, k = 4, 3
        bound = lemma_bound(np.full(p - 1, 1 / (p - 1)), p, k)
        numbers = {"bound": bound, "gamma_star_even": gamma_star_even(p, k)}
        return bound > gamma_star_even(p, k) * (1 + 1e-3), numbers, "the uniform q at even p"

    return [
        _control(
            "design paper, k=3, one point removed",
            "constructions.exact.prove_design",
            broken_design,
        ),
        _control(
            "paper network p=11, k=3, frequency 5 removed",
            "theory.margin_report, theory.fourier_summary",
            missing_frequency,
        ),
        _control(
            "paper network p=11, k=3, one neuron removed", "theory.margin_report", missing_neuron
        ),
        _control("random network p=11, k=3, width 640", "theory.margin_report", random_network),
        _control(
            "train p=13, k=2, 50 steps",
            command(["train", "--p", "13", "--k", "2", "--steps", "50", "--seed", str(seed)]),
            short_training,
        ),
        _control(
            "symmetric q = point mass, p=7, k=3", "constructions.convex.symmetric_q_bound", wrong_q
        ),
        _control(
            "SOS certificate p=5, k=3, t lowered 1%", "constructions.convex.certify_sos", forged_sos
        ),
        _control(
            "lattice design k=2, one point removed (5 < 6)",
            "constructions.exact.prove_design, theory.margin_report",
            below_lower_bound,
        ),
        _control(
            "Gaussian noise 11 x 11 as an attention matrix",
            "theory.attention_fourier_concentration",
            noise_attention,
        ),
        _control(
            "uniform q (the odd-p dual) at p=4, k=3",
            "theory.even_p.lemma_bound",
            odd_dual_at_even_p,
        ),
    ]
