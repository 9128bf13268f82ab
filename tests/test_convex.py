"""The convex programs of constructions.convex: both bounds against the closed form, the full
against the reduced LP, solver discipline, and negative controls for every checker."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest
from hypothesis import example, given, note, settings
from hypothesis import strategies as st

from fourier_circuits.constructions.convex import (
    SdpCertificate,
    certify_sdp,
    column_generation,
    optimal_symmetric_q,
    orbit_network,
    orbit_neurons,
    price,
    random_neurons,
    reduced_margin,
    reduced_rows,
    sdp_certificate,
    solve,
    solve_master,
    sparsify,
    symmetric_q_bound,
)
from fourier_circuits.constructions.convex.pricing import full_rows
from fourier_circuits.constructions.convex.solvers import (
    INFEASIBLE,
    LIMIT_FEASIBLE,
    LIMIT_NONE,
    solve_linprog,
    solve_milp,
)
from fourier_circuits.testing import problems
from fourier_circuits.theory import (
    FourierCircuitsError,
    gamma_star,
    margin_report,
    optimal_neuron,
    single_neuron_eta,
)

#: Column generation stops at ~1e-8 relative (HiGHS's accuracy, lp.PRICE_RTOL); the issue's
#: target for the gap is 1e-6, so the bounds are asserted at that level.
GAP_RTOL = 1e-6
#: A rigorous bound may not cross gamma* by more than float64 rounding of the margin sums.
CROSS_RTOL = 1e-9


@given(problems(max_p=7, max_examples=625), st.integers(0, 2**32 - 1))  # p <= 7; p <= 5 at k = 4
@example((5, 2), 0)
@settings(max_examples=15, deadline=None)
def test_reduced_rows_are_the_shift_averaged_margins(task: tuple[int, int], seed: int) -> None:
    """G(phi, d) (Fourier form) = eta(0) - eta(d) by brute force over D_p (theory module)."""
    p, k = task
    x = random_neurons(p, k, 1, rng=np.random.default_rng(seed))
    V = x[0].reshape(k + 1, p)
    eta = single_neuron_eta(V[:k], V[k])
    np.testing.assert_allclose(reduced_rows(x, p, k)[0], eta[0] - eta[1:], rtol=1e-9, atol=1e-15)


def test_orbit_network_margin_equals_the_reduced_margin() -> None:
    p, k = 5, 2
    rng = np.random.default_rng(3)
    neurons = random_neurons(p, k, 4, rng=rng)
    lam = rng.dirichlet(np.ones(4))
    report = margin_report(orbit_network(neurons, lam, p, k))
    assert report.norm == pytest.approx(1.0, rel=1e-12)
    assert report.normalized_margin == pytest.approx(
        reduced_margin(neurons, lam, p, k), rel=1e-9, abs=1e-15
    )
    # and the full rows of every orbit neuron average to the reduced rows
    orbit = orbit_neurons(neurons[:1], p, k)
    full = full_rows(orbit, p, k).mean(axis=0).reshape(p**k, p - 1)
    np.testing.assert_allclose(full.mean(axis=0), reduced_rows(neurons[:1], p, k)[0], rtol=1e-9)


@pytest.mark.parametrize(("p", "k"), [(5, 2), (7, 3)])
def test_column_generation_lower_bound_reaches_gamma_star(p: int, k: int) -> None:
    cg = column_generation(p, k, rng=np.random.default_rng(0))
    neurons, lam = cg.support()
    lower = margin_report(orbit_network(neurons, lam, p, k)).normalized_margin
    g = gamma_star(p, k)
    assert lower <= g * (1 + CROSS_RTOL)
    assert lower >= g * (1 - GAP_RTOL)
    assert cg.master.gap >= -1e-12 * g  # weak duality of the master


@given(
    st.tuples(st.sampled_from([3, 5, 7, 11, 13, 31, 101]), st.integers(2, 5)),
)
@settings(max_examples=20, deadline=None)
def test_symmetric_q_bound_at_uniform_is_gamma_star(task: tuple[int, int]) -> None:
    p, k = task
    value = symmetric_q_bound(np.ones(p - 1), p, k).value
    note(f"bound {value!r}, gamma* {gamma_star(p, k)!r}")
    assert value == pytest.approx(gamma_star(p, k), rel=1e-11)


def test_optimised_symmetric_q_is_uniform_and_tight() -> None:
    for p, k in [(7, 2), (11, 3)]:
        q, info = optimal_symmetric_q(p, k)
        assert info.status == cp.OPTIMAL
        assert np.abs(q - 1 / (p - 1)).max() < 1e-6
        bound = symmetric_q_bound(q, p, k).value
        assert gamma_star(p, k) * (1 - CROSS_RTOL) <= bound <= gamma_star(p, k) * (1 + GAP_RTOL)


@given(st.integers(0, 2**32 - 1))
@settings(max_examples=5, deadline=None)
def test_symmetric_q_lemma_matches_pricing(seed: int) -> None:
    """The lemma's F(q) is exact: multi-start pricing never exceeds it and nearly reaches it."""
    p, k = 5, 2
    rng = np.random.default_rng(seed)
    q = rng.dirichlet(np.ones(p - 1))
    bound = symmetric_q_bound(q, p, k).value
    best = price(q, p, k, rng=rng, starts=8).best
    note(f"q={q}, bound={bound}, pricing={best}")
    assert best <= bound
    assert best >= bound * (1 - 1e-6)


def test_wrong_q_gives_a_bound_above_gamma_star() -> None:
    """Negative control: all mass on d = 1 is far from dual-optimal."""
    p, k = 7, 2
    q = np.zeros(p - 1)
    q[0] = 1.0
    assert symmetric_q_bound(q, p, k).value > 1.1 * gamma_star(p, k)


def test_dictionary_lacking_a_frequency_gives_a_smaller_lower_bound() -> None:
    """Negative control (Theorem 4.1 (iii)): without frequency 3 the LP cannot reach gamma*."""
    p, k = 7, 2
    phases = np.random.default_rng(1).uniform(0, 2 * np.pi, (8, k))

    def dictionary(zetas: list[int]) -> np.ndarray:
        cols = []
        for zeta in zetas:
            for phi in phases:
                u, w = optimal_neuron(p, k, zeta, phi)
                cols.append(np.concatenate([u.reshape(-1), w]))
        return np.array(cols)

    full = solve_master(reduced_rows(dictionary([1, 2, 3]), p, k)).t
    lacking = solve_master(reduced_rows(dictionary([1, 2]), p, k)).t
    assert full == pytest.approx(gamma_star(p, k), rel=GAP_RTOL)
    assert lacking < full * (1 - 1e-3)


@pytest.fixture(scope="module")
def sdp5() -> SdpCertificate:
    return sdp_certificate(5)


def test_sdp_certificate_is_rigorous_and_tight(sdp5: SdpCertificate) -> None:
    certified = certify_sdp(sdp5)
    g = gamma_star(5, 2)
    assert certified.bound.rigorous
    assert certified.accepts()
    assert g * (1 - CROSS_RTOL) <= certified.bound.value <= g * (1 + GAP_RTOL)


def test_perturbed_sdp_certificate_is_rejected(sdp5: SdpCertificate) -> None:
    """Negative controls: a t claimed 1% too low, and a q moved off the certificate's."""
    g = gamma_star(5, 2)
    low = SdpCertificate(sdp5.p, sdp5.q, 0.99 * sdp5.t, sdp5.M, sdp5.info)
    certified = certify_sdp(low)
    assert not certified.accepts()
    assert certified.bound.value >= g * (1 - CROSS_RTOL)
    moved = SdpCertificate(
        sdp5.p, np.roll(sdp5.q, 1) + np.array([0.2, 0, 0, 0]), sdp5.t, sdp5.M, sdp5.info
    )
    certified = certify_sdp(moved)
    assert not certified.accepts()
    assert certified.bound.value >= g * (1 - CROSS_RTOL)


@pytest.mark.slow
def test_full_and_reduced_lp_agree_on_p3() -> None:
    p, k = 3, 2
    rng = np.random.default_rng(0)
    reduced = column_generation(p, k, rng=rng)
    # cold full column generation converges geometrically (~1e-1 per 10 iterations at p = 3)
    # but its later iterations grow expensive; 30 iterations reach ~1e-3 (agreement to 1e-6 is
    # tested on the orbit columns at p = 5 below)
    full = column_generation(p, k, rng=rng, method="full", max_iterations=30, max_seconds=1e4)
    assert full.master.t <= reduced.master.t * (1 + GAP_RTOL)  # the reduction loses nothing
    assert full.master.t == pytest.approx(reduced.master.t, rel=5e-3)
    assert reduced.master.t == pytest.approx(gamma_star(p, k), rel=GAP_RTOL)


def test_full_lp_on_the_orbit_columns_agrees_with_the_reduced_lp_on_p5() -> None:
    """From random neurons the full LP converges slowly at p = 5 (its vertex duals are poor
    pricing guides); on the orbit columns of the reduced support it reaches the same value."""
    p, k = 5, 2
    reduced = column_generation(p, k, rng=np.random.default_rng(0))
    neurons, _ = reduced.support()
    full = solve_master(full_rows(orbit_neurons(neurons, p, k), p, k))
    assert full.t == pytest.approx(reduced.master.t, rel=GAP_RTOL)


def test_solver_fallback_and_failure_are_named() -> None:
    x = cp.Variable()
    problem = cp.Problem(cp.Minimize(x), [x >= 1])
    info = solve(problem, ("NO_SUCH_SOLVER", "HIGHS"), what="toy")
    assert info.solver == "HIGHS" and info.attempts == ("NO_SUCH_SOLVER: not installed",)
    infeasible = cp.Problem(cp.Minimize(x), [x >= 1, x <= 0])
    with pytest.raises(FourierCircuitsError, match=r"HIGHS: status infeasible"):
        solve(infeasible, ("HIGHS",), what="toy")
    with pytest.raises(FourierCircuitsError, match="no solver succeeded"):
        solve(problem, ("NO_SUCH_SOLVER",), what="toy")


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(FourierCircuitsError, match="method"):
        column_generation(5, 2, rng=np.random.default_rng(0), method="simplex")
    with pytest.raises(FourierCircuitsError, match="rows"):
        column_generation(11, 4, rng=np.random.default_rng(0), method="full")
    with pytest.raises(FourierCircuitsError, match="p=4"):
        symmetric_q_bound(np.ones(3), 4, 2)


def test_vertex_of_the_full_lp_on_orbit_columns_is_sparser_and_keeps_the_margin() -> None:
    """Sparsification: a simplex vertex of the full LP on the orbit columns of a reduced support
    has fewer neurons than the orbit network and, recomputed from its weights, the same margin."""
    p, k = 5, 2
    neurons, lam = column_generation(p, k, rng=np.random.default_rng(0)).support()
    sparse = sparsify(orbit_neurons(neurons, p, k), p, k)
    assert len(sparse.lam) < len(lam) * p**k
    margin = margin_report(sparse.network(p, k)).normalized_margin
    g = gamma_star(p, k)
    assert g * (1 - GAP_RTOL) <= margin <= g * (1 + CROSS_RTOL)
    assert margin == pytest.approx(sparse.t, rel=1e-9)


# --- the solver layer (constructions.convex.solvers): each status path, each with a control ---
def _toy_sdp() -> cp.Problem:
    A = np.random.default_rng(0).normal(size=(6, 6))
    M = cp.Variable((6, 6), symmetric=True)
    return cp.Problem(cp.Maximize(cp.trace((A + A.T) @ M)), [M >> 0, cp.trace(M) == 1])


def test_inaccurate_cvxpy_answers_are_refused_unless_the_caller_makes_them_rigorous() -> None:
    problem, cut_short = _toy_sdp(), {"SCS": {"max_iters": 20}}  # replaces SOLVER_OPTIONS
    with pytest.raises(FourierCircuitsError, match="SCS: status optimal_inaccurate"):
        solve(problem, ("SCS",), what="toy", options=cut_short)
    info = solve(problem, ("SCS",), what="toy", options=cut_short, allow_inaccurate=True)
    assert info.inaccurate and info.status == cp.OPTIMAL_INACCURATE
    exact = solve(problem, ("SCS",), what="toy")  # the default tight options reach OPTIMAL
    assert not exact.inaccurate and exact.status == cp.OPTIMAL


def test_matrix_lp_optimal_only_with_its_duality_gap() -> None:
    c, A_ub, b_ub = np.array([-1.0, -2.0]), np.array([[1.0, 1.0]]), np.array([3.0])
    lp = solve_linprog(c, A_ub=A_ub, b_ub=b_ub, bounds=[(0, 2), (0, 2)], what="toy LP")
    assert lp.proved_optimal and lp.x is not None and np.allclose(lp.x, [1, 2])
    assert lp.objective == pytest.approx(-5) and lp.gap < 1e-12  # dual objective of marginals
    with pytest.raises(FourierCircuitsError, match=r"toy LP: scipy linprog .* infeasible"):
        solve_linprog(c, A_ub=A_ub, b_ub=[-1.0], bounds=[(0, 2), (0, 2)], what="toy LP")
    with pytest.raises(FourierCircuitsError, match="unbounded"):
        solve_linprog(c, bounds=[(0, None), (0, 2)], what="toy LP")


def _knapsack(capacity: float) -> dict:
    rng = np.random.default_rng(0)
    weights = rng.integers(100, 1000, 60).astype(float)
    return {
        "c": -(weights + rng.integers(0, 10, 60)),
        "A": weights[None],
        "row_lower": np.array([-np.inf]),
        "row_upper": np.array([capacity]),
        "col_lower": np.zeros(60),
        "col_upper": np.ones(60),
        "integer": np.arange(60),
        "what": "knapsack",
    }


def test_matrix_milp_status_paths() -> None:
    model = _knapsack(15_000.0)
    best = solve_milp(**model)
    assert best.proved_optimal and best.x is not None and best.gap <= 1e-4  # mip_rel_gap
    assert best.objective is not None and best.dual_bound <= best.objective
    stop = {"options": {"mip_max_improving_sols": 1}}  # a limit hit with an incumbent
    with pytest.raises(FourierCircuitsError, match="Solution limit reached"):
        solve_milp(**model, **stop)
    found = solve_milp(**model, **stop, accept=(LIMIT_FEASIBLE,))
    assert found.outcome == LIMIT_FEASIBLE and not found.proved_optimal and found.x is not None
    with pytest.raises(FourierCircuitsError, match="Time limit reached"):
        solve_milp(**model, time_limit=0.0)
    none = solve_milp(**model, time_limit=0.0, accept=(LIMIT_NONE, LIMIT_FEASIBLE))
    assert none.outcome == LIMIT_NONE and none.x is None and none.objective is None
    infeasible = {**_knapsack(15_000.0), "row_lower": np.array([1e6])}
    with pytest.raises(FourierCircuitsError, match="status 'Infeasible'"):
        solve_milp(**infeasible)  # a deliberately infeasible MILP raises, not a number
    assert solve_milp(**infeasible, accept=(INFEASIBLE,)).x is None
    with pytest.raises(FourierCircuitsError, match="threads"):
        solve_milp(**model, options={"threads": 1})


def test_sparsify_refuses_a_failed_lp(monkeypatch: pytest.MonkeyPatch) -> None:
    """sparsify goes through solvers.solve_linprog: an LP that the solver reports failed (here
    scipy's status 4, numerical trouble) raises naming solver and status instead of a network."""
    import scipy.optimize
    from scipy.optimize import OptimizeResult

    neurons, _ = column_generation(3, 2, rng=np.random.default_rng(0)).support()
    failed = OptimizeResult(status=4, message="numerical difficulties", x=None, fun=np.nan)
    monkeypatch.setattr(scipy.optimize, "linprog", lambda *a, **kw: failed)
    with pytest.raises(FourierCircuitsError, match=r"sparsify: .* status '4: numerical"):
        sparsify(orbit_neurons(neurons, 3, 2), 3, 2)
