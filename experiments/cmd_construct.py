"""`fourier-circuits construct --p P --k K [--design D] [--save F.npz [--force]] [--exact]`.

The command line of constructions.checked: builds a design's analytic network and checks it
against Theorem 4.1 by brute force over D_p: normalized margin = gamma*, every example correct
and on the margin with wrong labels tied (the certificate pair of Def 3.5), single-frequency
neurons whose phases add up, every frequency used. --exact adds the sympy proof of the design's
identity (independent of p) and, for small p, the normalized margin in exact arithmetic.
"""

from __future__ import annotations

import argparse

from fourier_circuits.constructions import DESIGNS
from fourier_circuits.constructions.checked import check_construction
from fourier_circuits.experiments.outcome import Outcome, fmt
from fourier_circuits.experiments.outputs import Staged, add_force_argument, check_save
from fourier_circuits.experiments.provenance import provenance
from fourier_circuits.theory import Task

NAME = "construct"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--p", type=int, required=True, help="odd modulus p >= 3")
    parser.add_argument("--k", type=int, required=True, help="number of summands k >= 2")
    parser.add_argument(
        "--design", choices=sorted(DESIGNS), default="paper", help="phase design (default: paper)"
    )
    parser.add_argument(
        "--save",
        metavar="F.npz",
        help="save the network (.npz, DESIGN.md; .pt, .pth or .safetensors: the d-doshi fcn "
        "state dict)",
    )
    add_force_argument(parser)
    parser.add_argument(
        "--exact", action="store_true", help="also prove the construction exactly (sympy)"
    )


def run(args: argparse.Namespace) -> Outcome:
    task = Task(args.p, args.k)
    save = check_save(args.save, force=args.force) if args.save is not None else None
    with Staged(save=save, force=args.force) as stage:
        result = check_construction(task.p, task.k, args.design, exact=args.exact)
        data = result.as_dict()
        if stage.file is not None and result.network is not None:
            meta = provenance(command="construct", design=args.design)
            from fourier_circuits.experiments.export import save_network  # by the suffix

            save_network(result.network.with_meta(**meta), stage.file, target=stage.save)
            data["saved"] = str(save)
    rows = [(key, fmt(value)) for key, value in data.items()]
    if not task.prime:
        rows.append(("note", f"p={task.p} is not prime: outside the paper's assumption"))
    return Outcome(data, rows, list(result.failures))
