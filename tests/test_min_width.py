"""The smallest width that reaches gamma* (constructions.min_width, docs/min-width.md): the
Delsarte lower bounds on the neurons per frequency against every design we know, the integer
program's designs proved exactly and by brute force, weighted designs, the aliasing of tiny p,
and `fourier-circuits solve --min-width`; each with a negative control."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fourier_circuits.constructions import (
    PhaseDesign,
    exact_normalized_margin,
    get_design,
    prove_design,
)
from fourier_circuits.constructions.designs import comb_design
from fourier_circuits.constructions.exact import unwanted_characters
from fourier_circuits.constructions.min_width import (
    ALIASED_DESIGNS,
    character_rows,
    clique_lower_bound,
    delsarte_ratio,
    frequency_collisions,
    orthogonal_characters,
    sdp_lower_bound,
    search_design,
    weighted_network,
)
from fourier_circuits.experiments.cli import main
from fourier_circuits.theory import FourierCircuitsError, gamma_star, margin_report
from fourier_circuits.theory.tolerances import MARGIN_RTOL

# Clique bounds: maximum cliques for k = 2, 3, 4; a greedy clique for k = 5.
CLIQUE = {2: 6, 3: 15, 4: 36, 5: 77}


@pytest.mark.parametrize("k", sorted(CLIQUE))
def test_clique_bound_is_below_every_known_design(k: int) -> None:
    bound = clique_lower_bound(k)
    assert bound.value == CLIQUE[k]
    for name in ("paper", "grid3", "lattice"):
        assert get_design(name, k).size >= bound.value


def test_clique_with_a_wanted_difference_is_rejected() -> None:
    chars = orthogonal_characters(2)
    with pytest.raises(FourierCircuitsError, match="not unwanted"):
        clique_lower_bound(2, (*chars, (4, 4)))


def test_delsarte_identity_holds_on_designs() -> None:
    """The proof's step sum_{i,l} F(phi_i - phi_l) = F_0 N^2 for F = |sum_{a in A} e^{i a.t}|^2
    (F_0 = |A|, unit weights): F(phi_i - phi_l) = |(G G^H)_il|^2 with G_ia = e^{i a.phi_i}, and
    (G^H G)_ab = mu^(b - a) is N I on a design. A design missing a point breaks it."""
    A = np.array(orthogonal_characters(3))
    for name in ("lattice", "paper", "grid3"):
        phi = get_design(name, 3).phases
        for drop in (False, True):
            G = np.exp(1j * (phi[1:] if drop else phi) @ A.T)  # (N, |A|)
            lhs = float(np.sum(np.abs(G @ G.conj().T) ** 2))
            target = len(A) * len(G) ** 2
            if drop:
                assert lhs > target * (1 + 1e-6)
            else:
                assert lhs == pytest.approx(target, rel=1e-12)


def test_sdp_bound_k2_is_six_and_sharp() -> None:
    bound = sdp_lower_bound(2)
    assert bound.value == 6 == get_design("lattice", 2).size  # N_min(2) = 6 exactly
    assert bound.solver_status == "optimal" and "post-processed" not in bound.method


def test_inaccurate_sdp_is_labelled_and_still_a_valid_bound() -> None:
    """SCS cut to 20 iterations answers OPTIMAL_INACCURATE: the bound is recomputed from the
    post-processed F, so it stays valid (<= 6, the lattice's size) and says so; an SDP stopped at
    its iteration limit (Clarabel, 2 iterations) gives no number at all."""
    rough = sdp_lower_bound(2, solver="SCS", solver_options={"max_iters": 20})
    assert rough.solver_status == "optimal_inaccurate" and "post-processed" in rough.method
    assert rough.raw <= get_design("lattice", 2).size and rough.value <= 6
    with pytest.raises(FourierCircuitsError, match="CLARABEL: status user_limit"):
        sdp_lower_bound(2, solver_options={"max_iter": 2})


def test_delsarte_post_processing_defeats_forged_matrices() -> None:
    """Any M gives a valid bound after post-processing: the all-ones M (1'M1 / tr M = 15, its
    spectrum off V u {0}) and a matrix that is not PSD both fall to a bound below 6."""
    n = len(unwanted_characters(2)) + 1
    ones = np.ones((n, n)) / n
    assert ones.sum() / np.trace(ones) == pytest.approx(15)
    assert delsarte_ratio(ones, 2) < 6
    not_psd = np.eye(n) / n
    not_psd[0, 1:] = not_psd[1:, 0] = 0.5
    assert np.linalg.eigvalsh(not_psd)[0] < 0 and delsarte_ratio(not_psd, 2) < 6
    with pytest.raises(FourierCircuitsError, match="finite"):
        delsarte_ratio(np.full((n, n), np.nan), 2)


def test_sdp_bound_k3_is_sixteen() -> None:
    bound = sdp_lower_bound(3)  # reduced by symmetry (the default for k >= 3)
    assert bound.value == 16 and 15.7 < bound.raw < 16 and "reduced by S_3" in bound.method
    assert get_design("lattice", 3).size > bound.value == comb_design(3).size  # N_min(3) = 16


def test_smallest_width_k3_is_settled_by_the_comb() -> None:
    """k = 3: the comb's 16 points (proved exactly, brute force at p = 7) meet the SDP bound 16;
    without the SDP (the clique's 15) the question is reported open, not settled."""
    from fourier_circuits.constructions.smallest_width import smallest_width

    result = smallest_width(3, p=7)
    assert result.holds and result.settled and result.design.name == "comb"
    assert result.smallest_design_size == result.lower_bound_per_frequency == 16
    assert result.as_dict()["settled"] is True and result.width == 48
    open_question = smallest_width(3, sdp=False)
    assert open_question.lower_bound_per_frequency == 15 and not open_question.settled
    aliased = smallest_width(3, p=9)  # p = 9 aliases: the bound 16 does not apply there
    assert aliased.aliased and aliased.smallest_design_size == 16 and not aliased.settled


def test_symmetric_sdp_agrees_with_the_unreduced_one_k2() -> None:
    full, reduced = sdp_lower_bound(2, symmetric=False), sdp_lower_bound(2, symmetric=True)
    assert full.value == reduced.value == 6 and reduced.raw == pytest.approx(full.raw, abs=1e-5)


@pytest.mark.slow
def test_symmetric_sdp_agrees_with_the_unreduced_one_k3() -> None:
    full, reduced = sdp_lower_bound(3, symmetric=False), sdp_lower_bound(3)
    assert full.value == reduced.value == 16 and reduced.raw == pytest.approx(full.raw, abs=1e-4)


def _characters(k: int) -> np.ndarray:
    return np.array([(0,) * k, *sorted(unwanted_characters(k))], dtype=np.int64)


@pytest.mark.parametrize("k", [2, 3])
def test_adapted_basis_block_diagonalises_invariant_matrices(k: int) -> None:
    """An independent check of the reduction: a random G-invariant M has exactly the eigenvalues
    of its blocks Q' M Q, each repeated d times, and the blocks' columns are orthonormal."""
    from fourier_circuits.constructions.convex.delsarte import _average, adapted_basis, group_action

    act = group_action(_characters(k))
    basis = adapted_basis(act, seed=3)
    n = act.shape[1]
    M = _average(np.random.default_rng(7).standard_normal((n, n)), act)
    M = (M + M.T) / 2
    pieces = [np.repeat(np.linalg.eigvalsh(Q.T @ M @ Q), d) for Q, d in basis]
    np.testing.assert_allclose(np.sort(np.concatenate(pieces)), np.linalg.eigvalsh(M), atol=1e-10)
    Q = np.hstack([Q for Q, _ in basis])
    np.testing.assert_allclose(Q.T @ Q, np.eye(Q.shape[1]), atol=1e-10)


def test_group_action_refuses_a_set_that_is_not_invariant() -> None:
    """Negative control: without the point (1, -1) the set is not closed under the symmetry."""
    from fourier_circuits.constructions.convex.delsarte import group_action

    A = np.array([a for a in _characters(2).tolist() if a != [1, -1]])
    with pytest.raises(FourierCircuitsError, match="not invariant"):
        group_action(A)


@pytest.mark.slow
def test_symmetric_sdp_bound_k4_is_forty() -> None:
    """The Delsarte SDP for k = 4, reduced by S_4 x {+-1} (blocks of size <= 36 instead of one
    431 x 431 matrix): 39.45, so at least 40 neurons per frequency (the clique gave 36)."""
    bound = sdp_lower_bound(4)
    assert bound.value == 40 and 39.4 < bound.raw < 39.5 and "reduced by S_4" in bound.method
    assert clique_lower_bound(4).value == 36 < bound.value <= get_design("lattice", 4).size
    assert bound.value == comb_design(4).size  # the comb meets it: N_min(4) = 40 exactly


def test_forged_k4_certificates_fall_below_the_bound() -> None:
    """Negative controls for k = 4: matrices that claim more than 40 (the all-ones M claims 431;
    a PSD M with mass on a difference outside V u {0}, and one that is not PSD) are refused by
    the post-processing: their rigorous bound stays below 40."""
    n = len(unwanted_characters(4)) + 1
    ones = np.ones((n, n)) / n
    assert ones.sum() / np.trace(ones) == pytest.approx(n) and delsarte_ratio(ones, 4) < 40
    rng = np.random.default_rng(0)
    G = rng.standard_normal((n, 60))
    psd = G @ G.T / np.trace(G @ G.T)  # PSD, but its spectrum leaves V u {0}
    assert psd.sum() / np.trace(psd) > 0 and delsarte_ratio(psd, 4) < 40
    not_psd = np.eye(n) / n
    not_psd[0, 1:] = not_psd[1:, 0] = 0.5 / n  # 1'M1 / tr M = n, eigenvalue < 0
    assert np.linalg.eigvalsh(not_psd)[0] < 0 and delsarte_ratio(not_psd, 4) < 40


@pytest.mark.parametrize("size", [1, 3, 5])
def test_designs_below_the_bound_fail_the_exact_check(size: int) -> None:
    rng = np.random.default_rng(size)
    for N in (4, 6, 12):
        pts = tuple(map(tuple, rng.integers(0, N, size=(size, 2))))
        assert not prove_design(PhaseDesign("small", N, pts)).holds


def test_search_finds_a_six_point_design_and_no_five_point_one() -> None:
    found = search_design(2, 6, time_limit=20)
    assert found.status == "Optimal" and found.size == 6
    assert found.proved_optimal and found.outcome.startswith("optimal (proved)")
    design = PhaseDesign("found", 6, found.points)
    assert np.allclose(found.weights, 1 / 6) and prove_design(design).holds
    report = margin_report(weighted_network(7, design))
    assert report.normalized_margin / gamma_star(7, 2) == pytest.approx(1, abs=MARGIN_RTOL)
    none = search_design(2, 6, time_limit=20, max_size=5)  # the clique bound says infeasible
    assert none.size is None and none.status == "Infeasible"
    assert not none.proved_optimal
    assert none.outcome == "infeasible: no design on this grid with at most 5 points"


def test_search_stopped_by_its_time_limit_is_never_an_optimum() -> None:
    """k = 3 on Z_6^3 does not finish in a second: the result says what the stop means."""
    empty = search_design(3, 6, time_limit=0.0)
    assert empty.status == "Time limit reached" and empty.size is None and not empty.points
    assert empty.outcome == "Time limit reached: no design found within the limit"
    assert not empty.proved_optimal
    short = search_design(3, 6, time_limit=1.0)
    assert short.status == "Time limit reached" and not short.proved_optimal
    if short.size is None:  # a loaded machine may find nothing in a second
        assert short.outcome.endswith("no design found within the limit")
    else:
        assert "best found" in short.outcome and "not proved optimal" in short.outcome
        assert short.size > short.dual_bound and len(short.points) == short.size


def test_character_rows_vanish_exactly_on_designs() -> None:
    R, X = character_rows(3, 6)
    index = {tuple(x): i for i, x in enumerate(X.tolist())}
    w = np.zeros(len(X))
    for pt in get_design("grid3", 3).points:
        w[index[tuple(2 * c for c in pt)]] += 1
    assert np.abs(R @ w).max() < 1e-12
    w[index[(0, 0, 0)]] = 0  # drop a point
    assert np.abs(R @ w).max() > 1e-3


def test_weighted_designs_reach_gamma_star_and_unequal_weights_do_not() -> None:
    """A positive combination of two designs (lattice x 2 + grid3 x 0.5 on Z_6^2, overlaps
    merged) is a weighted design; one perturbed weight breaks it."""
    lattice, grid3 = get_design("lattice", 2), get_design("grid3", 2)
    pts = lattice.points + tuple(tuple(2 * c for c in pt) for pt in grid3.points)
    w = np.r_[np.full(lattice.size, 2.0), np.full(grid3.size, 0.5)]
    design = PhaseDesign("mixed", 6, pts)
    net = weighted_network(7, design, w)
    assert net.m < design.size * 3  # repeated points merged into one neuron
    ratio = margin_report(net).normalized_margin / gamma_star(7, 2)
    assert ratio == pytest.approx(1, abs=MARGIN_RTOL)
    w[0] *= 1.5
    bad = margin_report(weighted_network(7, design, w))
    assert bad.normalized_margin / gamma_star(7, 2) < 1 - 1e-3


@pytest.mark.parametrize("p", [3, 5, 7, 9, 11, 13, 15])
@pytest.mark.parametrize("k", [2, 3, 4])
def test_frequencies_never_mix(p: int, k: int) -> None:
    cross, within = frequency_collisions(p, k)
    assert cross == 0
    if (p in (5, 7, 11, 13) and p >= 2 * k + 1) or k == 2:
        assert within == 0  # prime p >= 2k+1, and k = 2 at every odd p (docs/min-width.md)


def test_aliasing_at_tiny_p_exists() -> None:
    assert frequency_collisions(3, 3)[1] > 0 and frequency_collisions(5, 5)[1] > 0
    assert frequency_collisions(3, 2) == (0, 0)  # k = 2 never aliases


def test_aliased_design_reaches_gamma_star_at_p3_only() -> None:
    design = ALIASED_DESIGNS[(3, 3)]
    assert design.size == 9 < clique_lower_bound(3).value  # below the bound: only via aliasing
    assert exact_normalized_margin(3, 3, design).holds
    ratio = margin_report(weighted_network(3, design)).normalized_margin / gamma_star(3, 3)
    assert ratio == pytest.approx(1, abs=MARGIN_RTOL)
    assert not prove_design(design).holds  # not a design for p without aliasing
    assert not exact_normalized_margin(5, 3, design).holds
    broken = PhaseDesign("aliased-minus-one", 6, design.points[1:])
    assert not exact_normalized_margin(3, 3, broken).holds


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = main([*argv, "--json"])
    out, _ = capsys.readouterr()
    lines = out.strip().splitlines()
    assert len(lines) == 1
    return code, json.loads(lines[0])


def test_cli_min_width_reports_design_and_bound(capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run_json(capsys, "solve", "--min-width", "--k", "2", "--p", "7")
    assert code == 0
    assert data["smallest_design_size"] == 6 == data["lower_bound_per_frequency"]
    assert data["paper_size"] == 8 and data["lattice_size"] == 6 and data["proved"] is True
    assert data["width"] == 18 and data["margin_ratio"] == pytest.approx(1, abs=MARGIN_RTOL)
    assert len(data["design"]["points"]) == len(data["design"]["weights"]) == 6
    assert "seconds" in data


def test_cli_min_width_aliased_p3(capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run_json(capsys, "solve", "--min-width", "--k", "3", "--p", "3", "--no-sdp")
    assert code == 0 and data["smallest_design_size"] == 9 and data["width"] == 9
    assert data["proved"] is True and data["lattice_size"] == 18


def test_cli_solve_without_p_or_min_width_is_bad_input(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["solve", "--k", "2"]) == 2
    assert "--p is required" in capsys.readouterr().err


def test_clique_checker_rejects_a_shifted_member() -> None:
    chars = list(orthogonal_characters(3))
    chars[1] = tuple(c + 7 for c in chars[1])
    with pytest.raises(FourierCircuitsError, match="not unwanted"):
        clique_lower_bound(3, tuple(chars))


def test_pair_orbits_are_the_orbits_of_the_group() -> None:
    """The sorted-rows names of pair orbits (delsarte.pair_orbits) against the orbits computed
    from the group action itself (the smallest image code of each pair over G, both orders)."""
    from fourier_circuits.constructions.convex.delsarte import group_action, pair_orbits

    for k in (2, 3):
        A = _characters(k)
        labels = pair_orbits(A)
        n = len(A)
        canon = np.full((n, n), np.iinfo(np.int64).max)
        for g in group_action(A):
            code = g[:, None] * n + g[None, :]
            canon = np.minimum(canon, np.minimum(code, code.T))
        _, expected = np.unique(canon, return_inverse=True)
        # the same partition: a bijection between the label sets
        pairs = set(zip(labels.ravel().tolist(), expected.ravel().tolist(), strict=True))
        assert len(pairs) == len(set(expected.ravel().tolist())) == int(labels.max()) + 1


def test_stored_certificates_are_checked_not_trusted() -> None:
    """Negative controls at k = 3 (fast): pair-orbit values of the wrong count are refused, and
    forged ones (all ones: 1'M1 / tr M = 81; the identity plus mass off V u {0}) fall below 16."""
    from fourier_circuits.constructions.stored_bounds import invariant_matrix

    with pytest.raises(FourierCircuitsError, match="pair-orbit values"):
        invariant_matrix(3, np.ones(5))
    ones = invariant_matrix(3, np.ones(331))
    assert ones.sum() / np.trace(ones) == pytest.approx(81) and delsarte_ratio(ones, 3) < 16
    from fourier_circuits.constructions.stored_bounds import certificate_path

    with pytest.raises(FourierCircuitsError, match="stored for k in"):
        certificate_path(3)


@pytest.mark.slow
def test_stored_k5_certificate_gives_93_and_forged_mass_is_refused() -> None:
    """k = 5: the stored invariant M (16861 pair-orbit values, SCS offline) re-verified by
    delsarte_ratio: 92.197, so at least 93 points per frequency (clique 77, comb 96). Negative
    control: the same values plus a constant (M + cJ: 1'M1 / tr M grows, but F gains
    coefficients outside V u {0}) give a smaller rigorous bound, not a larger one."""
    from fourier_circuits.constructions.stored_bounds import (
        load_certificate,
        stored_sdp_lower_bound,
    )

    bound = stored_sdp_lower_bound(5)
    assert bound.value == 93 and 92.1 < bound.raw < 92.3 and "stored certificate" in bound.method
    assert clique_lower_bound(5).value == 77 < bound.value < comb_design(5).size == 96
    values = load_certificate(5)
    forged = stored_sdp_lower_bound(5, values + 1e-4)
    assert forged.raw < 92 < bound.raw


def test_cli_min_width_k4_without_sdp_reports_the_comb_unsettled(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """k = 4 with --no-sdp: the comb's 40 points (proved, brute force at p = 11) against the
    clique's 36, so not settled; the SDP's 40 settles it (test_symmetric_sdp_bound_k4_is_forty)."""
    code, data = run_json(capsys, "solve", "--min-width", "--k", "4", "--p", "11", "--no-sdp")
    assert code == 0 and data["design"]["name"] == "comb" and data["comb_size"] == 40
    assert data["smallest_design_size"] == 40 and data["lower_bound_per_frequency"] == 36
    assert data["proved"] is True and data["settled"] is False and data["lattice_size"] == 54
    assert data["width"] == 200 and data["margin_ratio"] == pytest.approx(1, abs=MARGIN_RTOL)
