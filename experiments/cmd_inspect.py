"""`fourier-circuits inspect F.npz [--min-ratio R] [--out DIR [--force]]`.

Checks a saved network (DESIGN.md's `.npz`: U (m, k, p), W (m, p), p, k, optional meta; any
network of the form of eq. 2 of arXiv 2402.09469, yours included) against Theorem 4.1, by brute
force over all of D_p and one DFT of its weights (theory.summarise, judged by theory.judge):
- claims (exit 0 when all hold, 1 naming each that fails): the normalized margin reaches gamma*
  (margin_ratio >= R, default 1 - MARGIN_RTOL; pass --min-ratio 0.99 for a network from `train`)
  and does not exceed it, the class-weighted margin does not exceed it, every example is correct,
  the median maximum normalized power of the active neurons is >= 0.95, every frequency is used;
- reported: per-neuron dominant frequencies, neurons per frequency, phase-sum residuals,
  amplitude balance, Condition 3.8, the certificate pair of Def 3.5, and the file's meta.
--out DIR writes DIR/inspect.json (the JSON object) and three figures (power_heatmap.png,
neuron_cosines.png, neurons_per_frequency.png), built in a hidden sibling and renamed into
place when complete (an existing DIR only with --force).
Exit 2, one line on stderr: a missing, unreadable, corrupt or mismatched file (PolyNet.load
refuses U/W shapes that disagree, even p, non-finite entries, missing arrays, pickled objects),
a zero network, a D_p too large to enumerate, an unwritable --out.
"""

from __future__ import annotations

import argparse
from typing import Any

from fourier_circuits.experiments.outcome import Outcome, fmt
from fourier_circuits.experiments.outputs import (
    Staged,
    add_force_argument,
    check_out,
    json_file,
    require_outside,
    write_atomic,
)
from fourier_circuits.theory import PolyNet, summarise, validate_min_ratio
from fourier_circuits.theory.summary import DEFAULT_MIN_RATIO

NAME = "inspect"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="F.npz", help="a network file (DESIGN.md format)")
    parser.add_argument(
        "--min-ratio",
        type=float,
        default=DEFAULT_MIN_RATIO,
        metavar="R",
        help=f"claim margin_ratio >= R (default {DEFAULT_MIN_RATIO!r}: gamma* itself; "
        "0.99 is what `train` claims)",
    )
    parser.add_argument("--out", metavar="DIR", help="write inspect.json and three figures")
    add_force_argument(parser)


def run(args: argparse.Namespace) -> Outcome:
    min_ratio = validate_min_ratio(args.min_ratio)
    out = check_out(args.out, force=args.force) if args.out is not None else None
    if out is not None:
        require_outside(args.file, out, what="F.npz")
    net = PolyNet.load(args.file)
    summary = summarise(net)
    data = {"file": str(args.file), **summary.as_dict(min_ratio=min_ratio)}
    rows = [("file", str(args.file)), *summary_rows(data)]
    if not net.task.prime:
        rows.append(("note", f"p={net.p} is not prime: outside the paper's assumption"))
    if out is not None:
        with Staged(out=out, force=args.force) as stage:
            assert stage.dir is not None
            from fourier_circuits.experiments.plots import save_network_plots  # matplotlib

            figures = save_network_plots(net, stage.dir)
            data["out"] = str(out)
            data["figures"] = [str(out / path.relative_to(stage.dir)) for path in figures]
            write_atomic(stage.dir / "inspect.json", json_file(data))
        rows.append(("out", str(out)))
    return Outcome(data, rows, list(data["failed"]))


def summary_rows(data: dict[str, Any]) -> list[tuple[str, str]]:
    """The human table of a summary's as_dict: one (key, value) per scalar, then one row per
    claim."""
    skip = {"file", "claims", "failed", "neurons", "meta", "neurons_per_frequency"}
    rows = [(key, fmt(value)) for key, value in data.items() if key not in skip]
    counts = data["neurons_per_frequency"]
    rows.append(
        (
            "neurons per frequency",
            "  ".join(f"{z}:{c}" for z, c in enumerate(counts) if c) + "  (0 = constant)",
        )
    )
    for name, held in data["claims"].items():
        rows.append((f"claim {name}", "holds" if held else "FAILS"))
    return rows
