"""`fourier-circuits verify [--out DIR] [--quick] [--force]`: the main job.

Checks every claim of arXiv 2402.09469 on a default grid (experiments.verify.plan), each by the
routes that apply: symbolic (exact arithmetic, sympy), constructive (brute force over D_p), convex
(cvxpy brackets never told gamma*), empirical (the paper's network and a one-layer Transformer,
trained), the smallest width the paper leaves open, and negative controls that every checker
must reject. Writes DIR/report.md, DIR/results.json and DIR/figures/*.png, all at once:
the run works in a hidden directory beside DIR and renames it into place only when complete, so an
interrupted run leaves no half report. Exit 0 when every claim held, 1 naming the failed ones.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shlex
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from fourier_circuits.experiments.outcome import Outcome
from fourier_circuits.experiments.outputs import (
    Staged,
    add_force_argument,
    check_out,
    json_file,
    require_outside,
    write_atomic,
)
from fourier_circuits.experiments.plots import save_figure
from fourier_circuits.experiments.provenance import versions
from fourier_circuits.experiments.verify import constructive, controls, convex, empirical, symbolic
from fourier_circuits.experiments.verify.claims import CLAIMS, Check
from fourier_circuits.experiments.verify.plan import DEFAULT_PLAN, QUICK_PLAN, VerifyPlan
from fourier_circuits.experiments.verify.report import (
    failed_claims,
    gamma_star_figure,
    markdown,
    results,
    verdicts,
)
from fourier_circuits.theory import FourierCircuitsError, PolyNet
from fourier_circuits.theory.evaluation import require_evaluation

NAME = "verify"

#: Figures a training run writes, with their captions in the report.
TRAINING_FIGURES = {
    "margin_ratio.png": "margin ratio over training, gamma* as the reference (Thm 4.1 (i))",
    "neuron_cosines.png": "trained neurons and their fitted cosines (the paper's Fig. 1)",
    "power_heatmap.png": "neurons x frequencies power at initialisation and at the end",
    "neurons_per_frequency.png": "neurons per frequency, trained and analytic (Thm 4.1 (iii))",
    # transformer and grokking runs
    "accuracy.png": "train and test accuracy, 0.99 as the reference",
    "attention_heads.png": "query-key matrices of the strongest heads and their 2-D spectra "
    "(the paper's Fig. 3)",
    "embedding_spectrum.png": "power of the token embeddings per frequency",
    "grokking.png": "train and test accuracy for k = 2..5, mean and range over seeds "
    "(the paper's Fig. 4)",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", metavar="DIR", default="verify-report", help="report directory (verify-report)"
    )
    parser.add_argument("--quick", action="store_true", help="a smaller grid (under 2 minutes)")
    add_force_argument(parser)
    parser.add_argument("--seed", type=int, default=0, help="seed of every randomised route")
    parser.add_argument(
        "--network", metavar="F.npz", help="also check this saved network (as `inspect` does)"
    )
    parser.add_argument(
        "--min-ratio",
        type=float,
        default=None,
        help="the margin ratio --network must reach (default: gamma* itself)",
    )


def _steps(
    plan: VerifyPlan, work: Path, network: str | None = None, min_ratio: float | None = None
) -> list[tuple[str, Callable[[], list[Check]]]]:
    """(description, step) for every check of the plan, cheapest routes first."""
    seed = plan.seed
    todo: list[tuple[str, Callable[[], list[Check]]]] = []
    for k in plan.design_orders:
        todo.append(
            (f"exact proof of every phase design, k={k}", partial(symbolic.design_checks, k))
        )
    for p, k in plan.exact:
        todo.append((f"exact margin p={p}, k={k}", partial(symbolic.exact_checks, p, k)))
    for p, k in plan.brute_force:
        todo.append((f"construction p={p}, k={k}", partial(constructive.brute_force_checks, p, k)))
    for p, k in plan.convex:
        todo.append((f"convex bracket p={p}, k={k}", partial(convex.convex_checks, p, k, seed)))
    for p, k in plan.trained:
        run_dir = work / "runs" / f"train_p{p}_k{k}"
        todo.append(
            (f"training p={p}, k={k}", partial(empirical.trained_checks, p, k, seed, run_dir))
        )
    for p, k in plan.trained_gd:
        run_dir = work / "runs" / f"train_gd_p{p}_k{k}"
        todo.append(
            (
                f"training p={p}, k={k} by gradient descent",
                partial(empirical.trained_checks, p, k, seed, run_dir, optimizer="gd"),
            )
        )
    for p, k in plan.even_p:
        todo.append((f"even p={p}, k={k}", partial(convex.even_p_checks, p, k, seed)))
    for p, k in plan.min_width:
        todo.append((f"smallest width p={p}, k={k}", partial(constructive.min_width_checks, p, k)))
    for p, k in plan.transformer:
        run_dir = work / "runs" / f"transformer_p{p}_k{k}"
        todo.append(
            (
                f"transformer p={p}, k={k}",
                partial(
                    empirical.transformer_checks, p, k, seed, run_dir, steps=plan.transformer_steps
                ),
            )
        )
    if plan.grokking:
        run_dir = work / "runs" / "grokking"
        todo.append(("grokking, k = 2..5", partial(empirical.grokking_checks, seed, run_dir)))
    todo.append(("negative controls", partial(controls.control_checks, seed)))
    if network is not None:
        todo.append(
            (f"network {network}", partial(constructive.network_checks, network, min_ratio))
        )
    return todo


def _collect_figures(work: Path, checks: list[Check]) -> list[tuple[str, str]]:
    """Move the training runs' figures into figures/ and draw the gamma* figure."""
    figures_dir = work / "figures"
    figures_dir.mkdir()
    figures: list[tuple[str, str]] = []
    fig = gamma_star_figure(checks)
    if fig is not None:
        save_figure(fig, figures_dir / "gamma_star.png")
        figures.append(("gamma_star.png", "gamma*(p, k): closed form and every route's value"))
    runs = work / "runs"
    for run in sorted(runs.iterdir()) if runs.is_dir() else []:
        for name, caption in TRAINING_FIGURES.items():
            source = run / name
            if source.is_file():
                stem = name.removesuffix(".png")
                target = name if stem == run.name else f"{run.name}_{name}"
                os.replace(source, figures_dir / target)
                figures.append((target, f"{run.name.replace('_', ' ')}: {caption}"))
    return figures


def _command_line(args: argparse.Namespace) -> str:
    """The command line that reproduces this run."""
    argv = ["fourier-circuits", "verify", "--out", str(args.out), "--seed", str(args.seed)]
    argv += ["--quick"] * args.quick + ["--force"] * args.force
    argv += ["--network", args.network] if args.network else []
    argv += ["--min-ratio", repr(args.min_ratio)] if args.min_ratio is not None else []
    return shlex.join(argv)


def _progress(i: int, n: int, what: str, seconds: float, found: list[Check]) -> None:
    held = "ok" if all(c.holds for c in found) else "FAILED"
    print(f"verify [{i}/{n}] {what}: {held} ({seconds:.1f} s)", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> Outcome:
    target = check_out(args.out, force=args.force)
    if args.network is not None:
        from fourier_circuits.theory import validate_min_ratio

        require_outside(args.network, target, what="--network")

        if args.min_ratio is not None:
            validate_min_ratio(args.min_ratio)
        try:  # an unusable file, or one too large to check, is bad input: refuse before any work
            net = PolyNet.load(args.network)
            require_evaluation(net.m, net.k, net.p, passes=2)  # summarise: margins, Condition 3.8
        except FourierCircuitsError as err:
            raise FourierCircuitsError(f"--network: {err}") from None
    elif args.min_ratio is not None:
        raise FourierCircuitsError("--min-ratio applies to --network; give --network F.npz")
    base = QUICK_PLAN if args.quick else DEFAULT_PLAN
    plan = VerifyPlan(**{**base.__dict__, "seed": args.seed})
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    start = time.perf_counter()
    with Staged(out=target, force=args.force) as stage:
        assert stage.dir is not None
        work = stage.dir
        todo = _steps(plan, work, args.network, args.min_ratio)
        checks: list[Check] = []
        for i, (what, step) in enumerate(todo, 1):
            t0 = time.perf_counter()
            new = step()
            checks += new
            _progress(i, len(todo), what, time.perf_counter() - t0, new)
        figures = _collect_figures(work, checks)
        meta = {
            "command": _command_line(args),
            "plan_name": "quick" if args.quick else "default",
            "plan": plan.__dict__,
            "seed": plan.seed,
            "started": started,
            "seconds": time.perf_counter() - start,
            "versions": versions(),
        }
        data = results(checks, meta)
        report = markdown(checks, meta, figures)
        write_atomic(work / "report.md", report.encode())
        write_atomic(work / "results.json", json_file(data, indent=2))
    found = verdicts(checks)
    summary = {
        "ok": data["ok"],
        "out": str(target),
        "report": str(target / "report.md"),
        "results": str(target / "results.json"),
        "figures": [str(target / "figures" / name) for name, _ in figures],
        "claims": {claim_id: held for claim_id, held in found.items()},
        "n_checks": len(checks),
        "failed": data["failed"],
        "seconds": meta["seconds"],
        "plan": meta["plan_name"],
        "seed": plan.seed,
    }
    titles = {claim.id: claim.title for claim in CLAIMS}
    rows = [
        (
            claim_id,
            f"{'holds' if held else 'FAILS'}  ({sum(c.claim == claim_id for c in checks)} checks)"
            f"  {titles[claim_id]}",
        )
        for claim_id, held in found.items()
    ]
    rows += [("report", str(target / "report.md")), ("seconds", f"{meta['seconds']:.1f}")]
    return Outcome(summary, rows, failed_claims(checks))
