"""`fourier-circuits sweep SUBCOMMAND --grid SPEC [--out DIR] [--scheduler ADDRESS]
[--workers N] [--force]`.

A grid of runs of `train`, `transformer`, `solve` or `construct` on Dask (experiments.sweep;
docs/sweep.md): SPEC is `;`-separated axes NAME=VALUES (`p=7,11;k=2;seed=0..9`), any option of
the subcommand (an axis of one value fixes it for every cell). Every cell is parsed and checked
by the subcommand before any runs; each then runs the same code as the single command. With
--out DIR the rows go to DIR/results.jsonl and DIR/results.csv as cells finish, and rerunning the
same command resumes (finished cells are skipped); DIR/summary.json, summary.csv and figures/
hold the seed statistics. Cells run on an embedded LocalCluster (one process per core, or
--workers N) or on the cluster at --scheduler.
Exit 0: every cell held its claims; 1: some cell failed a claim or failed (its row says why; the
sweep ran to the end); 2: bad input (an axis, a cell's value, DIR, the scheduler), before any
cell runs. A progress bar over the cells goes to stderr (one line per cell when not a terminal).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from fourier_circuits.experiments.outcome import Outcome, fmt
from fourier_circuits.experiments.sweep import SUBCOMMANDS, parse_grid, plan, run_sweep
from fourier_circuits.experiments.sweep.engine import require_dask

NAME = "sweep"
#: When stderr is not a terminal: a line per finished cell for sweeps up to this many cells,
#: else a line every LINE_SECONDS.
LINE_CELLS, LINE_SECONDS = 100, 5.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("subcommand", choices=SUBCOMMANDS, help="what each cell runs")
    parser.add_argument(
        "--grid",
        required=True,
        metavar="SPEC",
        help="axes NAME=V1,V2 or NAME=A..B (integers), ';' between: 'p=7,11;k=2;seed=0..9'",
    )
    parser.add_argument("--out", metavar="DIR", help="results, summaries and figures (resumable)")
    parser.add_argument(
        "--scheduler", metavar="ADDRESS", help="an existing Dask scheduler, tcp://HOST:PORT"
    )
    parser.add_argument("--workers", type=int, help="LocalCluster processes (default: cores)")
    parser.add_argument(
        "--force",
        action="store_true",
        help="more than 10,000 cells; or start afresh in a DIR holding another sweep",
    )


class Progress:
    """A bar over the cells on a terminal; otherwise lines (one per cell, or every few s)."""

    def __init__(self) -> None:
        self.bar: tqdm[Any] | None = None
        self.total = self.count = self.failed = 0
        self.last = 0.0

    def start(self, total: int, skipped: int) -> None:
        self.total, self.count = total, skipped
        if sys.stderr.isatty():
            self.bar = tqdm(
                total=total, initial=skipped, desc="sweep", unit="cell", file=sys.stderr
            )
        elif skipped:
            print(f"sweep: {skipped} of {total} cells already finished", file=sys.stderr)

    def row(self, row: dict[str, Any]) -> None:
        self.count += 1
        self.failed += row["status"] in ("error", "internal_error")
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(failed=self.failed, refresh=False)
            return
        now = time.monotonic()
        if self.total > LINE_CELLS and now - self.last < LINE_SECONDS and self.count < self.total:
            return
        self.last = now
        print(
            f"sweep: {self.count}/{self.total} cells ({self.failed} failed); cell {row['cell']} "
            f"{row['status']}",
            file=sys.stderr,
            flush=True,
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run(args: argparse.Namespace) -> Outcome:
    require_dask()
    grid = parse_grid(args.grid)
    checked = plan(args.subcommand, grid, force=args.force)
    progress = Progress()
    try:
        result = run_sweep(
            checked,
            out=None if args.out is None else Path(args.out),
            force=args.force,
            scheduler=args.scheduler,
            workers=args.workers,
            on_start=progress.start,
            on_row=progress.row,
        )
    finally:
        progress.close()
    data = result.as_dict()
    if args.out is not None:
        data["out"] = args.out
    counts: dict[str, int] = {}
    for row in result.rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    failures = [
        f"{n} of {result.total} cells: {status}" for status, n in counts.items() if status != "ok"
    ]
    rows = [(key, fmt(data[key])) for key in ("subcommand", "cells", "finished", "skipped", "ran")]
    rows.append(("failed", fmt(result.failed)))
    for group in result.groups:
        where = " ".join(f"{k}={fmt(v)}" for k, v in group.axes.items()) or "all cells"
        metric = group.metric
        held = group.claims["all_claims_held"]
        rows.append(
            (
                where,
                f"claims held {held['held']}/{held['n']}; {metric['name']} median "
                f"{fmt(metric['median'])} [{fmt(metric['q1'])}, {fmt(metric['q3'])}]",
            )
        )
    rows += [(name, path) for name, path in result.files.items()]
    return Outcome(data, rows, failures)
