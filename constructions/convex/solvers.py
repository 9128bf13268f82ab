"""Solver discipline for every convex and integer program here: name the solver, check its status,
fall back to the next installed solver where there is one, raise when none succeeds.

Every program of the package is solved through this module, by one rule: a result is used only when
the solver reports it OPTIMAL, or when the caller explicitly accepts a weaker, labelled outcome.
- `solve(problem, solvers, what=...)`: a cvxpy problem, solvers tried in order. Returns a SolveInfo
  whose status is cvxpy.OPTIMAL, or raises FourierCircuitsError naming every solver tried and its
  status. `allow_inaccurate=True` also accepts cvxpy.OPTIMAL_INACCURATE (labelled in
  SolveInfo.status): only for callers that make the result rigorous themselves (project or round
  it to an exactly feasible point and recompute the bound from it).
- `solve_linprog(...)`: an LP in scipy's matrix form, by scipy's HiGHS; optimal only.
- `solve_milp(...)`: a MILP in matrix form, by highspy. Optimal, or, where the caller lists them in
  `accept`, INFEASIBLE (proved: no feasible point) or a stop at a limit, labelled
  LIMIT_FEASIBLE ("best found, not proved optimal") or LIMIT_NONE ("none found within the limit").
Every other status (unbounded, numerical trouble, "Not Set", a load error, ...) raises.

A failed solve never yields a number.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from fourier_circuits.theory import FloatArray, FourierCircuitsError

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

#: Outcomes of a matrix-form solve (MatrixSolution.outcome).
OPTIMAL = "optimal"
INFEASIBLE = "infeasible"
LIMIT_FEASIBLE = "stopped at a limit: best found, not proved optimal"
LIMIT_NONE = "stopped at a limit: none found within the limit"
#: HiGHS model statuses that are a stop at a limit (the search may have found feasible points).
_HIGHS_LIMITS = ("kTimeLimit", "kIterationLimit", "kSolutionLimit", "kInterrupt")
#: HiGHS options solve_milp refuses: setting "threads" once HiGHS's global scheduler runs with
#: another count (e.g. after cvxpy's HiGHS solves in this process) makes run() fail ("Not Set").
_REFUSED_HIGHS_OPTIONS = ("threads",)


@dataclass(frozen=True)
class SolveInfo:
    """Which solver answered, its status, and the failed attempts before it ("SOLVER: status")."""

    solver: str
    status: str
    attempts: tuple[str, ...]

    @property
    def inaccurate(self) -> bool:
        """The solver stopped short of its tolerances (accepted only with allow_inaccurate)."""
        return self.status == cp.OPTIMAL_INACCURATE


def solve(
    problem: cp.Problem,
    solvers: Sequence[str],
    *,
    what: str,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    allow_inaccurate: bool = False,
) -> SolveInfo:
    """Solve with the first solver in `solvers` that is installed and reaches cvxpy.OPTIMAL.

    `options` replaces SOLVER_OPTIONS for the solvers it names ({"CLARABEL": {}}: its defaults).
    With allow_inaccurate, the first cvxpy.OPTIMAL_INACCURATE answer is returned too (status
    "optimal_inaccurate"); the caller must make it rigorous before using it, and label it."""
    installed = set(cp.installed_solvers())
    chosen = {**SOLVER_OPTIONS, **(options or {})}
    accepted = (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) if allow_inaccurate else (cp.OPTIMAL,)
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
                problem.solve(solver=name, **chosen.get(name, {}))
        except (cp.error.SolverError, MemoryError, ValueError, ArithmeticError) as err:
            attempts.append(f"{name}: {type(err).__name__} ({str(err).splitlines()[0][:80]})")
            continue
        if problem.status in accepted:
            return SolveInfo(name, str(problem.status), tuple(attempts))
        attempts.append(f"{name}: status {problem.status}")
    raise FourierCircuitsError(
        f"{what}: no solver succeeded ({'; '.join(attempts)}); no bound is reported"
    )


@dataclass(frozen=True)
class MatrixSolution:
    """A matrix-form LP or MILP solve. outcome: OPTIMAL, INFEASIBLE, LIMIT_FEASIBLE or LIMIT_NONE
    (only those the caller accepted); status: the solver's own words. x and objective are None
    unless a feasible point is known. dual_bound bounds the optimum from the other side (MILP:
    HiGHS's mip_dual_bound; LP: the dual objective of the returned marginals); gap is
    |objective - dual_bound| / max(1, |objective|) (HiGHS's "Optimal" allows mip_rel_gap 1e-4)."""

    solver: str
    status: str
    outcome: str
    x: FloatArray | None
    objective: float | None
    dual_bound: float
    gap: float
    seconds: float

    @property
    def proved_optimal(self) -> bool:
        return self.outcome == OPTIMAL


def _refuse(what: str, solver: str, status: str, outcome: str | None) -> FourierCircuitsError:
    said = f"status {status!r}" + (f" ({outcome})" if outcome and outcome not in status else "")
    return FourierCircuitsError(f"{what}: {solver} returned {said}; no result is reported")


def _gap(objective: float | None, dual_bound: float) -> float:
    if objective is None or not np.isfinite(dual_bound):
        return float("inf")
    return abs(objective - dual_bound) / max(1.0, abs(objective))


def solve_linprog(
    c: FloatArray,
    *,
    A_ub: FloatArray | None = None,
    b_ub: FloatArray | None = None,
    A_eq: FloatArray | None = None,
    b_eq: FloatArray | None = None,
    bounds: Sequence[tuple[float | None, float | None]],
    method: str = "highs-ds",
    what: str,
) -> MatrixSolution:
    """min c.x s.t. A_ub x <= b_ub, A_eq x = b_eq, bounds, by scipy.optimize.linprog (scipy's own
    HiGHS; `method` "highs-ds" is its dual simplex, which returns a vertex). Optimal only: an
    infeasible, unbounded, limited or numerically failed LP raises, naming solver and status."""
    from scipy.optimize import linprog

    start = time.perf_counter()
    res = linprog(c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=b_eq, bounds=bounds, method=method)
    seconds = time.perf_counter() - start
    solver, status = f"scipy linprog ({method})", f"{res.status}: {res.message}"
    outcome = {0: OPTIMAL, 1: LIMIT_NONE, 2: INFEASIBLE}.get(res.status)
    if outcome != OPTIMAL or res.x is None:
        raise _refuse(what, solver, status, outcome)
    dual = 0.0  # sum of rhs x marginal over rows and finite bounds (scipy's sensitivities)
    for rhs, part in ((b_ub, "ineqlin"), (b_eq, "eqlin")):
        if rhs is not None:
            dual += float(np.dot(rhs, res[part].marginals))
    for side, part in ((0, "lower"), (1, "upper")):
        lim = np.array([np.nan if b[side] is None else b[side] for b in bounds], dtype=float)
        finite = np.isfinite(lim)
        dual += float(np.dot(lim[finite], res[part].marginals[finite]))
    objective = float(res.fun)
    return MatrixSolution(
        solver, status, OPTIMAL, np.asarray(res.x), objective, dual, _gap(objective, dual), seconds
    )


def solve_milp(
    c: FloatArray,
    A: FloatArray | sp.csr_array,
    row_lower: FloatArray,
    row_upper: FloatArray,
    col_lower: FloatArray,
    col_upper: FloatArray,
    integer: Sequence[int] | np.ndarray,
    *,
    time_limit: float | None = None,
    what: str,
    accept: Sequence[str] = (),
    options: Mapping[str, Any] | None = None,
) -> MatrixSolution:
    """min c.x s.t. row_lower <= A x <= row_upper, col_lower <= x <= col_upper, x_j integer for j
    in `integer` (no bound: +-inf, HiGHS's kHighsInf), by highspy (output off, `threads` unset).

    Returns OPTIMAL (HiGHS's "Optimal": gap <= its mip_rel_gap), or an outcome listed in `accept`:
    INFEASIBLE, LIMIT_FEASIBLE (stopped at time_limit or another limit with a feasible incumbent:
    best found, not proved optimal) or LIMIT_NONE (stopped with none). Anything else raises."""
    import highspy

    bad = [key for key in (options or {}) if key in _REFUSED_HIGHS_OPTIONS]
    if bad:
        raise FourierCircuitsError(f"{what}: HiGHS option {bad[0]!r} is not set here (module doc)")
    if len(integer) == 0:
        raise FourierCircuitsError(f"{what}: no integer columns; an LP goes to solve_linprog")
    R = sp.csr_array(A)
    n = len(c)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    if time_limit is not None:
        h.setOptionValue("time_limit", float(time_limit))
    for key, value in (options or {}).items():
        h.setOptionValue(key, value)
    h.addVars(n, np.asarray(col_lower, dtype=float), np.asarray(col_upper, dtype=float))
    h.changeColsCost(n, np.arange(n), np.asarray(c, dtype=float))
    idx = np.asarray(integer, dtype=np.int32)
    h.changeColsIntegrality(len(idx), idx, np.array([highspy.HighsVarType.kInteger] * len(idx)))
    h.addRows(
        R.shape[0],
        np.asarray(row_lower, dtype=float),
        np.asarray(row_upper, dtype=float),
        R.nnz,
        R.indptr[:-1].astype(np.int32),
        R.indices.astype(np.int32),
        R.data.astype(float),
    )
    start = time.perf_counter()
    run_status = h.run()
    seconds = time.perf_counter() - start
    model = h.getModelStatus()
    solver, status = f"HiGHS {h.version()} (MIP)", h.modelStatusToString(model)
    info = h.getInfo()
    feasible = info.primal_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible
    outcome: str | None = None
    if run_status != highspy.HighsStatus.kError:
        if model == highspy.HighsModelStatus.kOptimal and feasible:
            outcome = OPTIMAL
        elif model == highspy.HighsModelStatus.kInfeasible:
            outcome = INFEASIBLE
        elif model.name in _HIGHS_LIMITS:
            outcome = LIMIT_FEASIBLE if feasible else LIMIT_NONE
    if outcome is None or (outcome != OPTIMAL and outcome not in accept):
        raise _refuse(what, solver, status, outcome)
    x = np.array(h.getSolution().col_value) if feasible and outcome != INFEASIBLE else None
    objective = float(info.objective_function_value) if x is not None else None
    dual = float(info.mip_dual_bound)
    gap = _gap(objective, dual)
    return MatrixSolution(solver, status, outcome, x, objective, dual, gap, seconds)
