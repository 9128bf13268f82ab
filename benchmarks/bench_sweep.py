"""A 16-cell sweep of short `train` runs on the embedded LocalCluster (two workers) against the
same cells one after another in this process: wall time of each, their ratio (target <= 0.6 on
the 2-core machine), and every cell's numbers compared (identical but for wall-clock seconds).

    .venv/bin/python benchmarks/bench_sweep.py                 # p = 17, 23; k = 2; seeds 0..7
    .venv/bin/python benchmarks/bench_sweep.py --grid 'p=7;k=2;seed=0..15' --json

Both timings run the whole typed path (experiments.sweep.run_sweep, no --out): the cluster's
includes starting it and each worker's first imports (torch), the sequential one its first
cell's. Load average is printed before and after: other jobs on the machine skew the ratio. The
control runs the last cell in one plain process, then in two at once (no Dask):
machine_slowdown_two_at_once near 1 means the machine has two cores' worth of time for this
session; near 2, one (other jobs take the rest), and no pool of workers can be faster then.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from fourier_circuits.experiments.sweep import parse_grid, plan, run_sweep

GRID = "p=17,23;k=2;seed=0..7"
TARGET = 0.6
#: The control: one cell's training seconds in a plain process, alone and beside a second one.
_CONTROL = """
import json, sys
from fourier_circuits.experiments.sweep import run_cell
run_cell("train", ["--p=5", "--k=2", "--steps=10"])  # imports and first-call costs
print(json.dumps(run_cell("train", sys.argv[1:])["data"]["seconds"]))
"""


def _control(argv: list[str], copies: int) -> float:
    """Mean training seconds of one cell run in `copies` plain processes at once (no Dask)."""
    children = [
        subprocess.Popen([sys.executable, "-c", _CONTROL, *argv], stdout=subprocess.PIPE, text=True)
        for _ in range(copies)
    ]
    return statistics.mean(float(child.communicate()[0]) for child in children)


def _numbers(row: dict) -> dict:
    """A row without what depends on the clock."""
    return {key: value for key, value in row.items() if "seconds" not in key}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", default=GRID, help=f"the sweep (default {GRID!r})")
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster workers (2)")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args()
    load_before = os.getloadavg()
    checked = plan("train", parse_grid(args.grid))
    start = time.perf_counter()
    here = run_sweep(checked, executor="process", figures=False)
    sequential = time.perf_counter() - start
    start = time.perf_counter()
    there = run_sweep(checked, executor="dask", workers=args.workers, figures=False)
    cluster = time.perf_counter() - start
    load_after = os.getloadavg()
    control = list(checked.cells[-1].argv)
    alone, beside = _control(control, 1), _control(control, 2)
    identical = [_numbers(a) for a in here.rows] == [_numbers(b) for b in there.rows]
    ok = [row["status"] for row in there.rows].count("ok")
    result = {
        "grid": args.grid,
        "cells": len(checked.cells),
        "cells_ok": ok,
        "workers": args.workers,
        "sequential_seconds": sequential,
        "cluster_seconds": cluster,
        "ratio": cluster / sequential,
        "target": TARGET,
        "identical_numbers": identical,
        "control_cell": " ".join(control),
        "control_alone_seconds": alone,
        "control_two_at_once_seconds": beside,
        # 1.0: two processes run truly in parallel; 2.0: they share one core's worth of time
        "machine_slowdown_two_at_once": beside / alone,
        "load_before": load_before,
        "load_after": load_after,
        "cpus": len(os.sched_getaffinity(0)),
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:<20} {value}")
    return 0 if identical and result["ratio"] <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
