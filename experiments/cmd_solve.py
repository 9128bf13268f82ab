"""`fourier-circuits solve --p P --k K [--method reduced|full] [--save F.npz]`.

Computes the maximum normalized margin from its definition, without being told gamma*: a lower
bound from column generation over random neurons (the margin of the explicit network recomputed
by theory.margin_report, or for large p^k by the orbit-averaged Fourier form), and rigorous upper
bounds from weak duality (the symmetric-q lemma; the k = 2 SDP and k = 3 SOS certificates). Checks
that gamma* (Theorem 4.1 (i) of arXiv 2402.09469) lies between them and that the gap is small.
Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from fourier_circuits.constructions.convex import (
    SPARSIFY_MAX_ROWS,
    Bound,
    certify_sdp,
    certify_sos,
    column_generation,
    optimal_symmetric_q,
    orbit_network,
    orbit_neurons,
    reduced_margin,
    sdp_certificate,
    sos_certificate,
    sparsify,
    symmetric_q_bound,
    symmetrised_dual,
)
from fourier_circuits.experiments.outcome import Outcome, fmt
from fourier_circuits.experiments.provenance import provenance, require_writable_file
from fourier_circuits.theory import (
    FourierCircuitsError,
    PolyNet,
    Task,
    fourier_summary,
    gamma_star,
    margin_report,
)
from fourier_circuits.theory.tolerances import GAP_TARGET, MARGIN_RTOL

NAME = "solve"

#: Largest p^k for which the explicit orbit network (width support * p^k) is built and checked
#: by theory.margin_report, and for which --save is allowed.
EXPLICIT_MAX_EXAMPLES = 3000
#: Largest p for the k = 2 SDP certificate (PSD dimension 2p(p+1) = 264 at p = 11).
SDP_MAX_P = 11
#: Largest p for the k = 3 SOS certificate (Gram blocks up to 2p + 8 after the symmetry
#: reduction; the rigorous check rebuilds the real Gram matrix of size 2p(4p+1): 1378 at p = 13).
SOS_MAX_P = 13


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--p",
        type=int,
        default=None,
        help="modulus: odd p >= 3 (the paper), or even p >= 2 (docs/even-p.md); required "
        "without --min-width",
    )
    parser.add_argument("--k", type=int, required=True, help="number of summands k >= 2")
    parser.add_argument(
        "--method",
        choices=("reduced", "full"),
        default="reduced",
        help="shift-reduced master (p-1 rows) or the full LP (p^k (p-1) rows, tiny p only)",
    )
    parser.add_argument("--save", metavar="F.npz", help="save the explicit network")
    parser.add_argument(
        "--sparsify",
        action="store_true",
        help="also solve the full LP on every shift of the support (a vertex: fewer neurons); "
        "--save then saves that network (p^k (p-1) <= 1500; (11, 2) takes about a minute)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random neurons")
    parser.add_argument("--starts", type=int, default=10, help="pricing starts per iteration")
    parser.add_argument(
        "--max-seconds", type=float, default=600.0, help="time limit of column generation"
    )
    parser.add_argument(
        "--no-sdp", action="store_true", help="skip the k = 2 SDP and the k = 3 SOS certificates"
    )
    parser.add_argument(
        "--min-width",
        action="store_true",
        help="smallest design reaching gamma* vs a lower bound (experiments.cmd_min_width)",
    )
    parser.add_argument(
        "--search-seconds",
        type=float,
        default=0.0,
        help="with --min-width: time limit of an integer-program design search (0: none)",
    )


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Send file descriptor 1 to stderr while solvers run: HiGHS prints a banner from C, which
    would break --json's one-object stdout."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no real fd 1 (embedded use): nothing to protect
        yield
        return
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _progress(iteration: int, t: float, best: float, columns: int) -> None:
    print(
        f"solve: iteration {iteration:4d}  t = {t:.12g}  best pricing = {best:.12g}  "
        f"columns = {columns}",
        file=sys.stderr,
        flush=True,
    )


def _lower_bound(
    neurons: np.ndarray, lam: np.ndarray, task: Task, method: str
) -> tuple[float, str, PolyNet | None]:
    """The normalized margin of the network the LP describes, recomputed from its weights."""
    p, k = task.p, task.k
    if method == "full":
        V = neurons.reshape(-1, k + 1, p)
        r = lam ** (1.0 / (k + 1))
        net = PolyNet(r[:, None, None] * V[:, :k], r[:, None] * V[:, k])
        return margin_report(net).normalized_margin, "theory.margin_report of the LP network", net
    if task.n_examples <= EXPLICIT_MAX_EXAMPLES:
        net = orbit_network(neurons, lam, p, k)
        return (
            margin_report(net).normalized_margin,
            "theory.margin_report of the explicit orbit network",
            net,
        )
    return reduced_margin(neurons, lam, p, k), "orbit-averaged margin (Fourier form)", None


def run(args: argparse.Namespace) -> Outcome:
    if args.min_width:
        from fourier_circuits.experiments import cmd_min_width

        with _stdout_to_stderr():
            return cmd_min_width.run(args)
    if args.p is None:
        raise FourierCircuitsError("--p is required (unless --min-width)")
    if args.p % 2 == 0:  # the paper's theory needs odd p; this toolkit derives the even case
        from fourier_circuits.experiments import solve_even

        with _stdout_to_stderr():
            return solve_even.run(args)
    task = Task(args.p, args.k)
    p, k = task.p, task.k
    if args.starts < 1:
        raise FourierCircuitsError(f"--starts={args.starts} must be a positive integer")
    if args.max_seconds <= 0:
        raise FourierCircuitsError(f"--max-seconds={args.max_seconds} must be positive")
    save = require_writable_file(args.save) if args.save else None
    if save is not None and args.method == "reduced" and task.n_examples > EXPLICIT_MAX_EXAMPLES:
        raise FourierCircuitsError(
            f"--save needs the explicit orbit network of width support * p^k; p^k = "
            f"{task.n_examples} exceeds {EXPLICIT_MAX_EXAMPLES} (use a smaller p or k)"
        )
    pairs = task.n_examples * (p - 1)
    if args.sparsify and pairs > SPARSIFY_MAX_ROWS:
        raise FourierCircuitsError(
            f"--sparsify solves the full LP, p^k (p-1) = {pairs} rows at p={p}, k={k}; at most "
            f"{SPARSIFY_MAX_ROWS} (use a smaller p or k)"
        )
    start = time.perf_counter()
    with _stdout_to_stderr():
        cg = column_generation(
            p,
            k,
            rng=np.random.default_rng(args.seed),
            method=args.method,
            starts=args.starts,
            max_seconds=args.max_seconds,
            progress=_progress,
        )
        neurons, lam = cg.support()
        lower, lower_method, net = _lower_bound(neurons, lam, task, args.method)
        q = cg.master.q if args.method == "reduced" else symmetrised_dual(cg.master.q, p, k)
        bounds: list[Bound] = [symmetric_q_bound(q, p, k)]
        bounds[0] = Bound(bounds[0].value, bounds[0].method + ", q = the LP's dual", True)
        q_opt, _ = optimal_symmetric_q(p, k)
        b = symmetric_q_bound(q_opt, p, k)
        bounds.append(Bound(b.value, b.method + ", q optimised (SOCP)", True))
        sdp_info: dict[str, Any] = {}
        if k == 2 and p <= SDP_MAX_P and not args.no_sdp:
            certified = certify_sdp(sdp_certificate(p))
            bounds.append(certified.bound)
            sdp_info = {
                "sdp_accepted": certified.accepts(),
                "sdp_min_eigenvalue": certified.min_eigenvalue,
                "sdp_coefficient_residual": certified.coefficient_residual,
                "sdp_deficit": certified.deficit,
            }
        if k == 3 and p <= SOS_MAX_P and not args.no_sdp:
            certified = certify_sos(sos_certificate(p))  # q optimised jointly, not given
            bounds.append(certified.bound)
            sdp_info = {
                "sos_accepted": certified.accepts(),
                "sos_min_eigenvalue": certified.min_eigenvalue,
                "sos_coefficient_residual": certified.coefficient_residual,
                "sos_deficit": certified.deficit,
            }
    seconds = time.perf_counter() - start
    best = min(bounds, key=lambda bd: bd.value)
    gstar = gamma_star(p, k)
    upper = best.value
    gap = (upper - lower) / upper
    support_net = PolyNet(neurons.reshape(-1, k + 1, p)[:, :k], neurons.reshape(-1, k + 1, p)[:, k])
    summary = fourier_summary(support_net)
    from fourier_circuits.theory import neuron_spectra

    spectra = neuron_spectra(support_net)
    uniform = np.full(p - 1, 1.0 / (p - 1))
    data: dict[str, Any] = {
        "p": p,
        "k": k,
        "method": args.method,
        "lower_bound": lower,
        "upper_bound": upper,
        "gamma_star": gstar,
        "support_size": len(lam),
        "seconds": seconds,
        "relative_gap": gap,
        "lower_bound_method": lower_method,
        "upper_bound_method": best.method,
        "upper_bounds": [
            {"value": bd.value, "method": bd.method, "rigorous": bd.rigorous} for bd in bounds
        ],
        "heuristic_pricing_value": {
            "value": cg.best_price,
            "method": "multi-start local pricing",
            "rigorous": False,
        },
        "lp_value": cg.master.t,
        "lp_duality_gap": cg.master.gap,
        "solver": cg.master.info.solver,
        "status": cg.master.info.status,
        "solver_fallbacks": list(cg.master.info.attempts),
        "iterations": cg.iterations,
        "converged": cg.converged,
        "columns": int(cg.neurons.shape[0]),
        "support_frequencies": sorted({int(z) for z in spectra.dominant}),
        "frequencies_covered": summary.frequencies_covered,
        "single_frequency_share": summary.single_frequency_share,
        "max_normalized_power_median": summary.max_normalized_power_median,
        "max_normalized_power_min": summary.max_normalized_power_min,
        "q_total_variation_from_uniform": 0.5 * float(np.abs(q - uniform).sum()),
        **sdp_info,
    }
    failures = []
    if lower > gstar * (1 + MARGIN_RTOL):
        failures.append(f"lower bound <= gamma* (lower bound {lower:.12g} > {gstar:.12g})")
    if upper < gstar * (1 - MARGIN_RTOL):
        failures.append(f"gamma* <= upper bound (upper bound {upper:.12g} < {gstar:.12g})")
    if gap > GAP_TARGET:
        failures.append(f"relative gap <= {GAP_TARGET:g} (gap {gap:.3g})")
    if "sdp_accepted" in sdp_info and not sdp_info["sdp_accepted"]:
        failures.append("the SDP certificate survives its rigorous post-processing")
    if "sos_accepted" in sdp_info and not sdp_info["sos_accepted"]:
        failures.append("the SOS certificate survives its rigorous post-processing")
    if args.sparsify:
        with _stdout_to_stderr():
            columns = orbit_neurons(neurons, p, k) if args.method == "reduced" else neurons
            sparse = sparsify(columns, p, k)
        net = sparse.network(p, k)
        sparse_margin = margin_report(net).normalized_margin
        data |= {
            "sparse_width": net.m,
            "sparse_normalized_margin": sparse_margin,
            "sparse_margin_ratio": sparse_margin / gstar,
        }
        # the orbit network is feasible in the sparsified LP, so a vertex cannot do worse
        if sparse_margin < lower * (1 - GAP_TARGET):
            failures.append(
                "the sparsified network keeps the lower bound "
                f"({sparse_margin:.12g} < {lower:.12g})"
            )
    if save is not None and net is not None:
        net.with_meta(
            **provenance(command="solve", method=args.method, seed=args.seed, lower_bound=lower)
        ).save(save)
        data["saved"] = str(save)
        data["width"] = net.m
    rows = [(key, fmt(value)) for key, value in data.items() if key != "upper_bounds"]
    rows += [
        (f"upper bound ({bd.method})", f"{fmt(bd.value)} rigorous={fmt(bd.rigorous)}")
        for bd in bounds
    ]
    return Outcome(data, rows, failures)
