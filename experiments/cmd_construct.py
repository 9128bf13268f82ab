"""`fourier-circuits construct --p P --k K [--design D] [--width M] [--seed S]
[--save F.npz [--force]] [--exact]`.

The command line of constructions.checked: builds a design's analytic network and checks it
against Theorem 4.1 by brute force over D_p: normalized margin = gamma*, every example correct
and on the margin with wrong labels tied (the certificate pair of Def 3.5), single-frequency
neurons whose phases add up, every frequency used. --exact adds the sympy proof of the design's
identity (independent of p) and, for small p, the normalized margin in exact arithmetic.

--design also names the peer constructions of the literature (constructions.peers: gromov,
cogo4, cogo6, morwani-dense), built and measured by constructions.peers_check.check_peer:
accuracy over all of D_p, normalized margin / gamma*, single-frequency share. A measured peer
(claim "measured": gromov, cogo4, morwani-dense) is not a construction claimed to reach gamma*,
so Theorem 4.1 is not judged: it exits 0 when the build has the peer's own defining property and
1 when it does not; cogo6 equals the lattice design and keeps the designs' claim. --width only
for gromov (any width >= 1; default the paper's 2^(2k-2)(p-1)), --seed only for gromov (default
0); --seed for another design, a --width other than its own, and --exact for a peer exit 2.
"""

from __future__ import annotations

import argparse

from fourier_circuits.constructions import DESIGNS
from fourier_circuits.constructions.checked import ConstructionCheck, check_construction
from fourier_circuits.constructions.designs import design_size
from fourier_circuits.constructions.peers import PEERS, require_peer
from fourier_circuits.constructions.peers_check import PeerCheck, check_peer
from fourier_circuits.experiments.outcome import Outcome, fmt
from fourier_circuits.experiments.outputs import Staged, add_force_argument, check_save
from fourier_circuits.experiments.provenance import provenance
from fourier_circuits.theory import FourierCircuitsError, Task

NAME = "construct"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--p", type=int, required=True, help="odd modulus p >= 3")
    parser.add_argument("--k", type=int, required=True, help="number of summands k >= 2")
    parser.add_argument(
        "--design",
        choices=sorted(DESIGNS) + sorted(PEERS),
        default="paper",
        help="phase design or peer construction (default: paper)",
    )
    parser.add_argument("--width", type=int, help="neurons (gromov only; default 2^(2k-2)(p-1))")
    parser.add_argument(
        "--seed", type=int, help="seed of the random phases (gromov only; default 0)"
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


def validate(args: argparse.Namespace) -> None:
    """The checks run makes before any work: p and k, the flags that do not apply to the design
    (exit 2), and a peer's width, seed and size (constructions.peers.require_peer); builds
    nothing and writes nothing. `sweep` checks each cell with it before any runs."""
    task = Task(args.p, args.k)
    if args.design in PEERS:
        if args.exact:
            raise FourierCircuitsError(
                f"--exact proves the phase designs {sorted(DESIGNS)}; design {args.design!r} is a "
                "peer construction (cogo6 equals lattice: use --design lattice --exact)"
            )
        require_peer(task.p, task.k, args.design, width=args.width, seed=args.seed)
        return
    if args.seed is not None:
        raise FourierCircuitsError(
            f"--seed {args.seed!r}: design {args.design!r} is deterministic; omit --seed "
            "(only gromov is random)"
        )
    if args.width is not None:
        fixed = design_size(args.design, task.k) * (task.p - 1) // 2
        if args.width != fixed:
            raise FourierCircuitsError(
                f"--width {args.width!r}: design {args.design!r} has the fixed width {fixed} at "
                f"p={task.p}, k={task.k}; omit --width (only gromov takes a width)"
            )


def run(args: argparse.Namespace) -> Outcome:
    validate(args)
    task = Task(args.p, args.k)
    save = check_save(args.save, force=args.force) if args.save is not None else None
    with Staged(save=save, force=args.force) as stage:
        result = _check(task, args)
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


def _check(task: Task, args: argparse.Namespace) -> ConstructionCheck | PeerCheck:
    """The design's check, or the peer's (validate has refused the flags that do not apply)."""
    if args.design in PEERS:
        return check_peer(task.p, task.k, args.design, width=args.width, seed=args.seed)
    return check_construction(task.p, task.k, args.design, exact=args.exact)
