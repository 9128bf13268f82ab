"""Solver discipline for every convex program here: name the solver, check problem.status against
cvxpy's constants, fall back to the next installed solver, raise when none succeeds.

A failed solve never yields a number: `solve` either returns a problem whose status is
cvxpy.OPTIMAL or raises FourierCircuitsError naming every solver tried and its status.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cvxpy as cp

from fourier_circuits.theory import FourierCircuitsError

#: LP solvers in order of preference (HiGHS's interior point was the fastest in prototypes).
LP_SOLVERS: tuple[str, ...] = ("HIGHS", "CLARABEL", "SCS")
#: SDP/SOCP solvers in order of preference (SCS scaled to PSD dimension ~300 where Clarabel
#: ran out of memory in prototypes).
SDP_SOLVERS: tuple[str, ...] = ("SCS", "CLARABEL")
SOCP_SOLVERS: tuple[str, ...] = ("CLARABEL", "SCS")

#: Extra options per solver: tight tolerances, since the bounds are compared at 1e-6 relative.
SOLVER_OPTIONS: dict[str, dict[str, Any]] = {
    "SCS": {"eps_abs": 1e-10, "eps_rel": 1e-10, "max_iters": 200_000},
    "CLARABEL": {"tol_gap_abs": 1e-12, "tol_gap_rel": 1e-12, "tol_feas": 1e-12},
    "HIGHS": {"output_flag": False},
}


@dataclass(frozen=True)
class SolveInfo:
    """Which solver answered, its status, and the failed attempts before it ("SOLVER: status")."""

    solver: str
    status: str
    attempts: tuple[str, ...]


def solve(problem: cp.Problem, solvers: Sequence[str], *, what: str) -> SolveInfo:
    """Solve with the first solver in `solvers` that is installed and reaches cvxpy.OPTIMAL."""
    installed = set(cp.installed_solvers())
    attempts: list[str] = []
    for name in solvers:
        if name not in installed:
            attempts.append(f"{name}: not installed")
            continue
        try:
            with warnings.catch_warnings():
                # cvxpy warns about inaccurate solutions and reduced accuracy; the status
                # check below is what decides, so these warnings are not errors here
                warnings.simplefilter("ignore", UserWarning)
                warnings.simplefilter("ignore", RuntimeWarning)
                problem.solve(solver=name, **SOLVER_OPTIONS.get(name, {}))
        except (cp.error.SolverError, MemoryError, ValueError, ArithmeticError) as err:
            attempts.append(f"{name}: {type(err).__name__} ({str(err).splitlines()[0][:80]})")
            continue
        if problem.status == cp.OPTIMAL:
            return SolveInfo(name, str(problem.status), tuple(attempts))
        attempts.append(f"{name}: status {problem.status}")
    raise FourierCircuitsError(
        f"{what}: no solver succeeded ({'; '.join(attempts)}); no bound is reported"
    )
