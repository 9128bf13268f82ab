"""The comb design (constructions.designs.comb_design): (k+1) 2^(k-1) points per frequency reach
gamma*, proved in exact arithmetic and by brute force over D_p, meeting the proved lower bounds
for k = 2, 3, 4; every piece of its structure is needed (negative controls)."""

from __future__ import annotations

import pytest

from fourier_circuits.constructions import PhaseDesign, get_design, prove_design
from fourier_circuits.constructions.designs import comb_design, comb_size
from fourier_circuits.constructions.min_width import clique_lower_bound, weighted_network
from fourier_circuits.theory import FourierCircuitsError, gamma_star, margin_report
from fourier_circuits.theory.tolerances import MARGIN_RTOL


@pytest.mark.parametrize("k", [2, 3, 4, 5, 6])
def test_comb_design_is_proved_exactly(k: int) -> None:
    design = comb_design(k)
    assert design.size == comb_size(k) == (k + 1) * 2 ** (k - 1) == len(set(design.points))
    assert prove_design(design).holds
    if k >= 3:
        assert design.size < get_design("lattice", k).size < get_design("paper", k).size


def test_comb_meets_the_lower_bound_for_k2() -> None:
    assert comb_design(2).size == clique_lower_bound(2).value == 6


@pytest.mark.parametrize(("p", "k"), [(7, 3), (11, 3), (11, 4)])
def test_comb_network_reaches_gamma_star_by_brute_force(p: int, k: int) -> None:
    """An independent check: the network of (p-1)/2 combs, its margin over all of D_p."""
    net = weighted_network(p, comb_design(k))
    assert net.m == comb_size(k) * (p - 1) // 2
    ratio = margin_report(net).normalized_margin / gamma_star(p, k)
    assert ratio == pytest.approx(1, abs=MARGIN_RTOL)


@pytest.mark.parametrize("k", [3, 4])
def test_every_part_of_the_comb_is_needed(k: int) -> None:
    """Negative controls: a point dropped, one translate (a half-period point b_S) dropped, combs of
    k points instead of k + 1 (spacing 2 pi / (2k)), and the phase-sum rule broken all fail."""
    design = comb_design(k)
    N = design.N
    assert not prove_design(PhaseDesign("minus-one", N, design.points[1:])).holds
    one_translate = tuple(pt for pt in design.points if len(set(pt)) == 1)  # b = 0
    assert len(one_translate) == k + 1
    rest = tuple(pt for pt in design.points if pt not in one_translate)
    assert not prove_design(PhaseDesign("minus-a-comb", N, rest)).holds
    short = tuple(pt for pt in design.points if pt[-1] < k)  # combs j = 0..k-1 on Z_N
    assert not prove_design(PhaseDesign("short-combs", N, short)).holds
    assert not prove_design(design, phase_w_offset=1).holds
    bad = margin_report(weighted_network(7, PhaseDesign("minus-one", N, design.points[1:])))
    assert bad.normalized_margin / gamma_star(7, k) < 1 - 1e-3


def test_comb_refuses_a_bad_order() -> None:
    with pytest.raises(FourierCircuitsError):
        comb_design(1)
