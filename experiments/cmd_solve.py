"""`fourier-circuits solve --p P --k K [--method reduced|full] [--save F.npz [--force]]`.

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
from typing import TypeVar

from fourier_circuits.constructions.convex.bracket import EXPLICIT_MAX_EXAMPLES, bracket
from fourier_circuits.constructions.convex.bracket_even import bracket_even
from fourier_circuits.constructions.convex.pricing import check_starts
from fourier_circuits.constructions.smallest_width import smallest_width
from fourier_circuits.experiments.arguments import refuse_given, seconds
from fourier_circuits.experiments.outcome import Outcome, fmt
from fourier_circuits.experiments.outputs import Staged, add_force_argument, check_save
from fourier_circuits.experiments.provenance import provenance
from fourier_circuits.theory import FourierCircuitsError, Task, check_seed

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
        help="shift-reduced master (p-1 rows, the default) or the full LP (p^k (p-1) rows, tiny "
        "p only)",
    )
    parser.add_argument("--save", metavar="F.npz", help="save the explicit network")
    add_force_argument(parser)
    parser.add_argument(
        "--sparsify",
        action="store_true",
        help="also solve the full LP on every shift of the support (a vertex: fewer neurons); "
        "--save then saves that network (p^k (p-1) <= 1500; (11, 2) takes about a minute)",
    )
    parser.add_argument("--seed", type=int, help="seed of the random neurons (default 0)")
    parser.add_argument("--starts", type=int, help="pricing starts per iteration (default 10)")
    parser.add_argument(
        "--max-seconds",
        type=seconds(allow_zero=False),
        help="time limit of column generation (default 600)",
    )
    parser.add_argument(
        "--no-sdp",
        action="store_true",
        help="skip the k = 2 SDP and the k = 3 SOS certificates; with --min-width, the Delsarte "
        "SDP lower bounds (k <= 4) and the stored k = 5 certificate: the clique bound remains",
    )
    parser.add_argument(
        "--min-width",
        action="store_true",
        help="smallest design reaching gamma* vs a lower bound (constructions.smallest_width)",
    )
    parser.add_argument(
        "--search-seconds",
        type=seconds(allow_zero=True),
        help="with --min-width: time limit of an integer-program design search (default 0: none)",
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
            args.k, p=args.p, sdp=not args.no_sdp, search_seconds=args.search_seconds or 0.0
        )
    data = result.as_dict()
    rows = [(key, fmt(value)) for key, value in data.items() if key not in ("design", "search")]
    rows.append(("design points", fmt([str(pt) for pt in result.design.points])))
    return Outcome(data, rows, list(result.failures))


def _run_even(args: argparse.Namespace) -> Outcome:
    """Even p: constructions.convex.bracket_even against theory.even_p's closed form (same keys
    as at odd p; gamma_star is the even-p closed form, `paper_formula` the odd one)."""
    with _stdout_to_stderr():
        result = bracket_even(args.p, args.k, seed=_or(args.seed, 0), starts=_or(args.starts, 10))
    data = result.as_dict()
    rows = [(key, fmt(value)) for key, value in data.items() if key != "upper_bounds"]
    return Outcome(data, rows, list(result.failures))


T = TypeVar("T")


def _or(value: T | None, default: T) -> T:
    return default if value is None else value


def validate(args: argparse.Namespace) -> None:
    """The checks run makes before any work (flags that do not apply to the route, p, k, the
    seed and the starts); solves nothing and writes nothing. `sweep` checks each cell with it."""
    if args.min_width:
        only = ("--save", "--force", "--sparsify", "--method", "--seed", "--starts")
        unless = "with --min-width (no convex bracket is solved)"
        refuse_given(args, (*only, "--max-seconds"), unless=unless)
        return
    refuse_given(args, ("--search-seconds",), unless="without --min-width")
    if args.p is None:
        raise FourierCircuitsError("--p is required (unless --min-width)")
    check_seed(_or(args.seed, 0))
    check_starts(_or(args.starts, 10))
    if args.p % 2 == 0:
        flags = ("--save", "--force", "--sparsify", "--method", "--max-seconds", "--no-sdp")
        refuse_given(
            args,
            flags,
            unless=f"at even p={args.p} (the even-p route brackets gamma* only; docs/even-p.md)",
        )
        return
    Task(args.p, args.k)


def run(args: argparse.Namespace) -> Outcome:
    validate(args)
    if args.min_width:
        return _run_min_width(args)
    if args.p % 2 == 0:  # the paper's theory needs odd p; this toolkit derives the even case
        return _run_even(args)
    task = Task(args.p, args.k)
    method, seed = _or(args.method, "reduced"), _or(args.seed, 0)
    save = check_save(args.save, force=args.force) if args.save is not None else None
    if save is not None and method == "reduced" and task.n_examples > EXPLICIT_MAX_EXAMPLES:
        raise FourierCircuitsError(
            f"--save needs the explicit orbit network of width support * p^k; p^k = "
            f"{task.n_examples} exceeds {EXPLICIT_MAX_EXAMPLES} (use a smaller p or k)"
        )
    with Staged(save=save, force=args.force) as stage:
        with _stdout_to_stderr():
            result = bracket(
                task.p,
                task.k,
                method=method,
                seed=seed,
                starts=_or(args.starts, 10),
                max_seconds=_or(args.max_seconds, 600.0),
                certificates=not args.no_sdp,
                sparsify_network=args.sparsify,
                progress=_progress,
            )
        data = result.as_dict()
        if stage.file is not None and result.network is not None:
            meta = provenance(
                command="solve", method=method, seed=seed, lower_bound=result.lower_bound
            )
            result.network.with_meta(**meta).save(stage.file)
            data["saved"] = str(save)
            data["width"] = result.network.m
    rows = [(key, fmt(value)) for key, value in data.items() if key != "upper_bounds"]
    rows += [
        (f"upper bound ({bd.method})", f"{fmt(bd.value)} rigorous={fmt(bd.rigorous)}")
        for bd in result.upper_bounds
    ]
    return Outcome(data, rows, list(result.failures))
