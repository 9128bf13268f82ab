"""`fourier-circuits solve --p P --k K [--method reduced|full] [--save F.npz]`.

The command line of constructions.convex.bracket: the maximum normalized margin computed from its
definition, without being told gamma*: a lower bound from column generation over random neurons
(the margin of the LP's network measured by brute force over D_p), and rigorous upper bounds
from weak duality (the symmetric-q lemma; the k = 2 SDP and k = 3 SOS certificates). Checks that
gamma* (Theorem 4.1 (i) of arXiv 2402.09469) lies between them and that the gap is small.
Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator

from fourier_circuits.constructions.convex.bracket import EXPLICIT_MAX_EXAMPLES, bracket
from fourier_circuits.constructions.convex.bracket_even import bracket_even
from fourier_circuits.constructions.smallest_width import smallest_width
from fourier_circuits.experiments.outcome import Outcome, fmt
from fourier_circuits.experiments.outputs import require_writable_file
from fourier_circuits.experiments.provenance import provenance
from fourier_circuits.theory import FourierCircuitsError, Task

NAME = "solve"


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
        help="smallest design reaching gamma* vs a lower bound (constructions.smallest_width)",
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


def _run_min_width(args: argparse.Namespace) -> Outcome:
    """`solve --min-width`: constructions.smallest_width (docs/min-width.md)."""
    with _stdout_to_stderr():
        result = smallest_width(
            args.k, p=args.p, sdp=not args.no_sdp, search_seconds=args.search_seconds
        )
    data = result.as_dict()
    rows = [(key, fmt(value)) for key, value in data.items() if key not in ("design", "search")]
    rows.append(("design points", fmt([str(pt) for pt in result.design.points])))
    return Outcome(data, rows, list(result.failures))


def _run_even(args: argparse.Namespace) -> Outcome:
    """Even p: constructions.convex.bracket_even against theory.even_p's closed form (same keys
    as at odd p; gamma_star is the even-p closed form, `paper_formula` the odd one)."""
    refused = [flag for flag, on in (("--save", args.save), ("--sparsify", args.sparsify)) if on]
    if args.method != "reduced":
        refused.append(f"--method {args.method}")
    if refused:
        raise FourierCircuitsError(
            f"p={args.p} is even: {', '.join(refused)} not available (the even-p route brackets "
            "gamma* only; docs/even-p.md)"
        )
    with _stdout_to_stderr():
        result = bracket_even(args.p, args.k, seed=args.seed, starts=args.starts)
    data = result.as_dict()
    rows = [(key, fmt(value)) for key, value in data.items() if key != "upper_bounds"]
    return Outcome(data, rows, list(result.failures))


def run(args: argparse.Namespace) -> Outcome:
    if args.min_width:
        return _run_min_width(args)
    if args.p is None:
        raise FourierCircuitsError("--p is required (unless --min-width)")
    if args.p % 2 == 0:  # the paper's theory needs odd p; this toolkit derives the even case
        return _run_even(args)
    task = Task(args.p, args.k)
    save = require_writable_file(args.save) if args.save else None
    if save is not None and args.method == "reduced" and task.n_examples > EXPLICIT_MAX_EXAMPLES:
        raise FourierCircuitsError(
            f"--save needs the explicit orbit network of width support * p^k; p^k = "
            f"{task.n_examples} exceeds {EXPLICIT_MAX_EXAMPLES} (use a smaller p or k)"
        )
    with _stdout_to_stderr():
        result = bracket(
            task.p,
            task.k,
            method=args.method,
            seed=args.seed,
            starts=args.starts,
            max_seconds=args.max_seconds,
            certificates=not args.no_sdp,
            sparsify_network=args.sparsify,
            progress=_progress,
        )
    data = result.as_dict()
    if save is not None and result.network is not None:
        result.network.with_meta(
            **provenance(
                command="solve", method=args.method, seed=args.seed, lower_bound=result.lower_bound
            )
        ).save(save)
        data["saved"] = str(save)
        data["width"] = result.network.m
    rows = [(key, fmt(value)) for key, value in data.items() if key != "upper_bounds"]
    rows += [
        (f"upper bound ({bd.method})", f"{fmt(bd.value)} rigorous={fmt(bd.rigorous)}")
        for bd in result.upper_bounds
    ]
    return Outcome(data, rows, list(result.failures))
