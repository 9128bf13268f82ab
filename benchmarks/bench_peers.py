"""The peer constructions beside the toolkit's designs: the table and figure of docs/min-width.md.

    python benchmarks/bench_peers.py                       # tables on stdout
    python benchmarks/bench_peers.py --figure docs/figures/peers.png --force
    python benchmarks/bench_peers.py --json                # one JSON object on stdout

k = 2 at p = 97 (the setting of Gromov's reported 100 neurons for 100% accuracy): paper, grid3,
lattice, the weighted design, cogo4, cogo6, morwani-dense and gromov at widths 48 .. 4800 with
seeds 0-4; k = 3 at p = 13: paper, grid3, lattice and gromov. Every row is measured over all of
D_p by constructions.peers_compare.compare_peers (brute force, float64).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from fourier_circuits.constructions.peers_compare import compare_peers
from fourier_circuits.experiments.outputs import check_save
from fourier_circuits.experiments.plots_peers import save_peers_figure

#: (p, k, gromov widths) of each table.
SETTINGS = (
    (97, 2, (48, 100, 200, 500, 1000, 2000, 4800)),
    (13, 3, (6, 30, 60, 120, 300, 600, 1200, 3000)),
)
SEEDS = (0, 1, 2, 3, 4)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--figure", type=Path, help="write the figure (PNG) here")
    parser.add_argument("--force", action="store_true", help="replace an existing figure")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args(argv)
    target = (
        check_save(str(args.figure), force=args.force, what="--figure") if args.figure else None
    )
    start = time.perf_counter()
    tables = []
    for p, k, widths in SETTINGS:
        print(f"measuring p={p}, k={k} ...", file=sys.stderr)
        tables.append(compare_peers(p, k, widths, SEEDS))
    seconds = time.perf_counter() - start
    if target is not None:
        save_peers_figure(tables, target)
    if args.json:
        print(json.dumps({"tables": [t.as_dict() for t in tables], "seconds": seconds}))
    else:
        for t in tables:
            print(f"\np = {t.p}, k = {t.k}\n")
            print(t.markdown())
        print(f"{seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
