"""verify's constructive route: the paper's network built at its width and checked by brute
force over D_p (constructions.checked), the smallest width reaching gamma*
(constructions.smallest_width), and a saved network against the theorem (theory.summarise)."""

from __future__ import annotations

from fourier_circuits.constructions.checked import check_construction
from fourier_circuits.constructions.smallest_width import smallest_width
from fourier_circuits.experiments.verify.claims import Check
from fourier_circuits.experiments.verify.runner import attempt, command, failed, subject
from fourier_circuits.theory import PolyNet, summarise, width_bound
from fourier_circuits.theory.tolerances import MARGIN_RTOL


def brute_force_checks(p: int, k: int) -> list[Check]:
    """The paper's network at width 2^(2k-2)(p-1), checked over all p^k inputs."""
    argv = ["construct", "--p", str(p), "--k", str(k)]
    c, error, s = attempt(lambda: check_construction(p, k, "paper"))
    if c is None:
        return [failed("construction", "constructive", subject(p, k), argv, error, s, p=p, k=k)]
    margin = {
        "normalized_margin": c.normalized_margin,
        "gamma_star": c.gamma_star,
        "relative_error": c.relative_error,
    }
    margin_holds = c.relative_error <= MARGIN_RTOL
    numbers = {
        "width": c.width,
        "width_bound": width_bound(p, k),
        "n_examples": c.n_examples,
        "relative_error": c.relative_error,
        "all_correct": c.all_correct,
        "all_on_margin": c.all_on_margin,
        "wrong_labels_tied": c.wrong_labels_tied,
        "certificate_holds": c.certificate_holds,
        "frequencies_covered": c.frequencies_covered,
        "max_phase_sum_residual": c.max_phase_sum_residual,
    }
    failures = list(c.failures)
    if c.width != numbers["width_bound"]:
        failures.append(f"width {c.width} = 2^(2k-2)(p-1) = {numbers['width_bound']}")
    return [
        Check(
            "max_margin",
            "constructive",
            subject(p, k),
            command(argv),
            margin,
            margin_holds,
            "" if margin_holds else f"relative error {c.relative_error:.3g} > {MARGIN_RTOL:g}",
            s,
            ("normalized_margin", "gamma_star", "relative_error"),
            p,
            k,
        ),
        Check(
            "construction",
            "constructive",
            subject(p, k),
            command(argv),
            numbers,
            not failures,
            "; ".join(failures),
            s,
            ("width", "n_examples", "all_on_margin", "wrong_labels_tied", "certificate_holds"),
            p,
            k,
        ),
    ]


def min_width_checks(p: int, k: int) -> list[Check]:
    """The smallest design found, proved, against the proved lower bound."""
    argv = ["solve", "--min-width", "--p", str(p), "--k", str(k)]
    r, error, s = attempt(lambda: smallest_width(k, p=p))
    if r is None:
        return [failed("min_width", "constructive", subject(p, k), argv, error, s, p=p, k=k)]
    numbers = {
        "smallest_design_size": r.smallest_design_size,
        "lower_bound_per_frequency": r.lower_bound_per_frequency,
        "lower_bound_method": r.lower_bound_method,
        "paper_size": r.paper_size,
        "lattice_size": r.lattice_size,
        "proved": r.proved,
        "width": r.width,
        "margin_ratio": r.margin_ratio,
        "paper_width": width_bound(p, k),
    }
    size, bound = r.smallest_design_size, r.lower_bound_per_frequency
    failures = list(r.failures)
    if r.margin_ratio is None:
        failures.append("no brute-force margin (p^k too large for this check)")
    if k == 2 and bound != size:
        failures.append(f"for k = 2 the lower bound must meet the design size: {bound} != {size}")
    return [
        Check(
            "min_width",
            "constructive",
            subject(p, k),
            command(argv),
            numbers,
            not failures,
            "; ".join(failures),
            s,
            ("smallest_design_size", "lower_bound_per_frequency", "width", "margin_ratio"),
            p,
            k,
        )
    ]


def network_checks(path: str, min_ratio: float | None) -> list[Check]:
    """A saved network (the user's own) against every claim of the theorem, as `inspect`."""
    argv = ["inspect", path] + (["--min-ratio", repr(min_ratio)] if min_ratio is not None else [])
    summary, error, s = attempt(lambda: summarise(PolyNet.load(path)))
    if summary is None:
        return [failed("network", "constructive", path, argv, error, s)]
    kwargs = {} if min_ratio is None else {"min_ratio": min_ratio}
    d = summary.as_dict(**kwargs)
    keys = (
        "p",
        "k",
        "width",
        "normalized_margin",
        "gamma_star",
        "margin_ratio",
        "all_correct",
        "frequencies_covered",
        "max_normalized_power_median",
    )
    numbers = {key: d[key] for key in keys}
    shown = (
        "p",
        "k",
        "width",
        "margin_ratio",
        "frequencies_covered",
        "max_normalized_power_median",
    )
    failures = d["failed"]
    return [
        Check(
            "network",
            "constructive",
            path,
            command(argv),
            numbers,
            not failures,
            "; ".join(failures),
            s,
            shown,
            d["p"],
            d["k"],
        )
    ]
