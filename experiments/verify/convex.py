"""verify's convex route: the maximum margin bracketed by convex programs that are never told
gamma* (constructions.convex.bracket), at odd p and at even p (bracket_even), and the LP
support's neurons read against Theorem 4.1 (ii)-(iii)."""

from __future__ import annotations

from fourier_circuits.constructions.convex.bracket import bracket
from fourier_circuits.constructions.convex.bracket_even import bracket_even
from fourier_circuits.experiments.verify.claims import Check
from fourier_circuits.experiments.verify.runner import attempt, command, failed, subject
from fourier_circuits.theory.tolerances import GAP_TARGET


def convex_checks(p: int, k: int, seed: int) -> list[Check]:
    """The bracket, and the support's single-frequency neurons and coverage."""
    argv = ["solve", "--p", str(p), "--k", str(k), "--seed", str(seed)]
    b, error, s = attempt(lambda: bracket(p, k, seed=seed))
    if b is None:
        return [failed("max_margin", "convex", subject(p, k), argv, error, s, p=p, k=k)]
    numbers = {
        "lower_bound": b.lower_bound,
        "upper_bound": b.upper_bound,
        "gamma_star": b.gamma_star,
        "relative_gap": b.relative_gap,
        "upper_bound_method": b.upper_bound_method,
        "lower_bound_method": b.lower_bound_method,
        "support_size": b.support_size,
    }
    support = {
        "support_size": b.support_size,
        "single_frequency_share": b.single_frequency_share,
        "max_normalized_power_median": b.max_normalized_power_median,
        "max_normalized_power_min": b.max_normalized_power_min,
        "frequencies_covered": b.frequencies_covered,
        "support_frequencies": list(b.support_frequencies),
    }
    # Every support neuron single-frequency to the accuracy the bracket is solved to: pricing
    # stops within ~1e-9 of a stationary point, so at p = 101 a support neuron's power can be
    # 1 - 1.2e-9 (below theory's 1 - 1e-9 for single_frequency_share) at relative gap 2e-8.
    single = b.max_normalized_power_min >= 1 - GAP_TARGET
    covered = b.frequencies_covered == 1.0
    cmd, lp = command(argv), subject(p, k) + " (LP support)"
    return [
        Check(
            "max_margin",
            "convex",
            subject(p, k),
            cmd,
            numbers,
            b.holds,
            "; ".join(b.failures),
            s,
            ("lower_bound", "upper_bound", "relative_gap"),
            p,
            k,
        ),
        Check(
            "single_frequency",
            "convex",
            lp,
            cmd,
            support,
            single,
            ""
            if single
            else f"a support neuron has normalized power {b.max_normalized_power_min:.9g} "
            f"< 1 - {GAP_TARGET:g}",
            s,
            ("support_size", "single_frequency_share", "max_normalized_power_min"),
            p,
            k,
        ),
        Check(
            "coverage",
            "convex",
            lp,
            cmd,
            support,
            covered,
            "" if covered else f"frequencies covered {b.frequencies_covered:.3g} < 1",
            s,
            ("frequencies_covered", "support_frequencies"),
            p,
            k,
        ),
    ]


def even_p_checks(p: int, k: int, seed: int) -> list[Check]:
    """The bracket around theory.even_p's closed form, and the paper's formula below it."""
    argv = ["solve", "--p", str(p), "--k", str(k), "--seed", str(seed)]
    b, error, s = attempt(lambda: bracket_even(p, k, seed=seed))
    if b is None:
        return [failed("even_p", "convex", subject(p, k), argv, error, s, p=p, k=k)]
    d = b.as_dict()
    keys = (
        "lower_bound",
        "upper_bound",
        "gamma_star",
        "gamma_star_exact",
        "relative_gap",
        "paper_formula",
        "paper_formula_below_lower_bound",
        "support_size",
        "support_frequencies",
        "q_opt_distance_from_closed_form",
    )
    failures = list(b.failures)
    if not b.paper_formula_below_lower_bound:
        failures.append("the paper's formula lies below the lower bound at even p")
    return [
        Check(
            "even_p",
            "convex",
            subject(p, k),
            command(argv),
            {key: d[key] for key in keys},
            not failures,
            "; ".join(failures),
            s,
            ("lower_bound", "upper_bound", "gamma_star_exact", "relative_gap", "paper_formula"),
            p,
            k,
        )
    ]
