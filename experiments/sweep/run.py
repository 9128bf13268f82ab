"""run_sweep: a planned sweep run to the end (resuming what DIR already holds), its rows
recorded as cells finish, then summarised into DIR/summary.{json,csv} and DIR/figures/."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from fourier_circuits.experiments.outputs import json_file, write_atomic
from fourier_circuits.experiments.sweep import engine
from fourier_circuits.experiments.sweep.cells import Plan
from fourier_circuits.experiments.sweep.store import Results, record_of
from fourier_circuits.experiments.sweep.summary import METRICS, Group, summarise


@dataclass(frozen=True)
class SweepResult:
    """What a sweep did: cells in the grid, finished now or before (skipped), failed (status
    error or internal_error), the latest row of each cell, the groups' statistics, the files."""

    subcommand: str
    total: int
    finished: int  # cells with a result now (ok, claims_failed or error)
    failed: int  # rows with status error or internal_error
    skipped: int  # finished before this run (resumed), not run again
    ran: int  # cells run by this run
    rows: list[dict[str, Any]]
    groups: list[Group]
    files: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "subcommand": self.subcommand,
            "cells": self.total,
            "finished": self.finished,
            "failed": self.failed,
            "skipped": self.skipped,
            "ran": self.ran,
            "metric": METRICS[self.subcommand],
            "summary": [group.as_dict() for group in self.groups],
            "files": self.files,
        }


OnRow = Callable[[dict[str, Any]], None]


def run_sweep(
    plan: Plan,
    *,
    out: Path | None = None,
    force: bool = False,
    executor: Literal["dask", "process"] = "dask",
    scheduler: str | None = None,
    workers: int | None = None,
    on_start: Callable[[int, int], None] | None = None,
    on_row: OnRow | None = None,
    figures: bool = True,
) -> SweepResult:
    """Run the cells of `plan` not yet finished in `out` (every cell when out is None) on Dask
    (engine.client: a LocalCluster of `workers`, or `scheduler`) or, with executor="process",
    one after another here. on_start(total, skipped) is called before the first cell,
    on_row(row) after each. An interrupt leaves every finished cell recorded (rerun to resume)."""
    results = Results(out, plan, force=force)
    done = results.done
    todo = [cell for cell in plan.cells if cell.index not in done]
    if on_start is not None:
        on_start(len(plan.cells), len(done))

    def record(row: dict[str, Any]) -> None:
        results.append(row)
        if on_row is not None:
            on_row(row)

    if todo and executor == "dask":  # connected before DIR is written: refusals leave no trace
        with engine.client(scheduler=scheduler, workers=workers) as dask_client:
            results.start()
            engine.on_dask(dask_client, plan, todo, record)
    else:
        results.start()
        engine.in_process(plan, todo, record)
    rows = results.rows
    groups = summarise(plan.subcommand, plan.grid.names, [cell.values for cell in plan.cells], rows)
    files = _write_summaries(out, plan, groups, figures=figures) if out is not None else {}
    return SweepResult(
        subcommand=plan.subcommand,
        total=len(plan.cells),
        finished=sum(1 for row in rows if row.get("status") != "internal_error"),
        failed=sum(1 for row in rows if row.get("status") in ("error", "internal_error")),
        skipped=len(done),
        ran=len(todo),
        rows=rows,
        groups=groups,
        files=files,
    )


def _write_summaries(
    out: Path, plan: Plan, groups: list[Group], *, figures: bool
) -> dict[str, str]:
    summary = {**record_of(plan), "metric": METRICS[plan.subcommand]}
    summary["groups"] = [group.as_dict() for group in groups]
    write_atomic(out / "summary.json", json_file(summary))
    flat = [group.flat() for group in groups]
    columns = list(dict.fromkeys(key for row in flat for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in flat)
    write_atomic(out / "summary.csv", buffer.getvalue().encode())
    files = {
        name: str(out / name)
        for name in ("sweep.json", "results.jsonl", "results.csv", "summary.json", "summary.csv")
    }
    if figures:
        from fourier_circuits.experiments.plots_sweep import save_sweep_figures

        for name, path in save_sweep_figures(plan, groups, out / "figures").items():
            files[name] = str(path)
    return files
