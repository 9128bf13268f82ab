"""Sweeps: a grid of runs of `train`, `transformer`, `solve` or `construct` on Dask, recorded
cell by cell and summarised over seeds (docs/sweep.md). The typed capabilities behind
`fourier-circuits sweep`: parse_grid -> plan -> run_sweep (-> SweepResult, summarise, wilson)."""

from fourier_circuits.experiments.sweep.cells import SUBCOMMANDS, Cell, Plan, plan, run_cell
from fourier_circuits.experiments.sweep.grid import MAX_CELLS, Axis, Grid, parse_grid
from fourier_circuits.experiments.sweep.run import SweepResult, run_sweep
from fourier_circuits.experiments.sweep.summary import METRICS, Group, summarise, wilson

__all__ = [
    "MAX_CELLS",
    "METRICS",
    "SUBCOMMANDS",
    "Axis",
    "Cell",
    "Grid",
    "Group",
    "Plan",
    "SweepResult",
    "parse_grid",
    "plan",
    "run_cell",
    "run_sweep",
    "summarise",
    "wilson",
]
