"""Exact proofs about phase designs (constructions.exact): the character check of THEORY.md
("Smaller designs"; proof step 3, App. G of arXiv 2402.09469), the frequency sum of erratum 2 and
the construction's margin over D_p in exact cyclotomic arithmetic, each against an independent route
(direct trigonometric expansion, float64 evaluation at random angles, the float margin of
theory.margins, gamma_star_exact) and each with negative controls the checks must refute."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import example, given, note
from hypothesis import strategies as st
from strategies import design_names, seeds

from fourier_circuits.constructions import (
    PhaseDesign,
    construct,
    exact_normalized_margin,
    expansion_residual,
    frequency_sums_exact,
    get_design,
    prove_design,
    unwanted_characters,
)
from fourier_circuits.constructions.exact import _reduction_matrix, _vanishes, margin_work
from fourier_circuits.theory import FourierCircuitsError, gamma_star_exact, normalized_margin
from fourier_circuits.theory.tolerances import MARGIN_RTOL

NAMES = ("paper", "grid3", "lattice")

# THEORY.md, "Smaller designs": the number of unwanted characters.
UNWANTED_COUNTS = {2: 14, 3: 80, 4: 430}

# float64 sums of n terms of (k+1) cosines: relative error <= ~(n + k + 2) eps of sum |terms|
# (under 1e-13 for the designs here); 1e-12 of sum |terms| is a safe bound that a false identity
# (residuals of order 1 and more, see the negative control) misses by many orders of magnitude.
IDENTITY_RTOL = 1e-12

# Characters a with every non-zero difference a - b unwanted (a maximum clique found by search).
# The vectors (e^{i a.phi})_{phi in design} are then orthogonal in C^|design| for any design that
# annihilates the unwanted characters, so such a design has at least len(A) points.
ORTHOGONAL_CHARACTERS: dict[int, list[tuple[int, ...]]] = {
    2: [(0, -2), (1, -3), (1, -1), (2, -2), (2, 0), (3, -1)],
    3: [
        (0, 0, -2), (0, 1, -3), (1, -1, -2), (1, 0, -3), (1, 0, -1), (1, 1, -2), (1, 2, -1),
        (2, 0, -2), (2, 1, -3), (2, 1, -1), (2, 2, -2), (2, 2, 0), (2, 3, -1), (3, 1, -2),
        (3, 2, -1),
    ],
}  # fmt: skip


def without_point(design: PhaseDesign, index: int) -> PhaseDesign:
    points = design.points[:index] + design.points[index + 1 :]
    return PhaseDesign(f"{design.name}-minus-{index}", design.N, points)


def design_sum(design: PhaseDesign, x: np.ndarray, y: float) -> tuple[float, float]:
    """sum over the design of (sum_j cos(phi_j + x_j))^k cos(phi_1 + ... + phi_k + y) in float64,
    and the sum of the terms' absolute values (the scale of its rounding error)."""
    phi = design.phases  # (n, k)
    terms = np.cos(phi + x[None, :]).sum(axis=1) ** design.k * np.cos(phi.sum(axis=1) + y)
    return float(terms.sum()), float(np.abs(terms).sum())


# --- the unwanted characters ---------------------------------------------------------------------


@pytest.mark.parametrize("k", sorted(UNWANTED_COUNTS))
def test_unwanted_character_count_matches_theory(k: int) -> None:
    assert len(unwanted_characters(k)) == UNWANTED_COUNTS[k]


@pytest.mark.parametrize("k", [2, 3, 4, 5])
def test_unwanted_characters_are_nonzero_symmetric_and_balanced(k: int) -> None:
    """v = n + s(1..1) with |n|_1 <= k and n_j = e_j mod 2: v != 0, -v is unwanted too (the
    conjugate term), and sum_j v_j = sum_j n_j + s k is even +- k (n has the parity of k)."""
    chars = set(unwanted_characters(k))
    assert (0,) * k not in chars
    assert all(tuple(-c for c in v) in chars for v in chars)
    assert all(sum(v) % 2 == 0 for v in chars)  # sum n = k mod 2 and s k = k mod 2
    assert all(len(v) == k for v in chars)


# --- the design proof ----------------------------------------------------------------------------


@pytest.mark.parametrize("k", [2, 3, 4, 5, 6])
@pytest.mark.parametrize("name", NAMES)
def test_every_design_annihilates_every_unwanted_character(name: str, k: int) -> None:
    design = get_design(name, k)
    proof = prove_design(design)
    assert proof.failing == ()
    assert proof.wanted_exact
    assert proof.holds
    assert proof.c == sp.Rational(design.size * math.factorial(k), 2**k)
    assert proof.c.is_Rational
    assert proof.n_characters == len(unwanted_characters(k))
    assert (proof.design, proof.k, proof.N, proof.size) == (name, k, design.N, design.size)


@pytest.mark.parametrize("name", NAMES)
def test_direct_expansion_agrees_for_k2(name: str) -> None:
    assert expansion_residual(get_design(name, 2)) == 0


@pytest.mark.parametrize("name", NAMES)
def test_direct_expansion_agrees_for_k3(name: str) -> None:
    """sympy needs a few seconds for the lattice (N = 18: cos(pi/9) is not a real radical)."""
    assert expansion_residual(get_design(name, 3)) == 0


def test_direct_expansion_refutes_broken_designs() -> None:
    paper = get_design("paper", 2)
    assert expansion_residual(without_point(paper, 3)) != 0
    assert expansion_residual(paper, phase_w_offset=1) != 0
    assert expansion_residual(paper, phase_w_offset=[0] * 7 + [2]) != 0


@given(
    name=design_names,
    k=st.integers(min_value=2, max_value=5),
    angles=st.lists(st.floats(min_value=-50.0, max_value=50.0), min_size=6, max_size=6),
)
@example(name="lattice", k=5, angles=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
@example(name="paper", k=2, angles=[0.0] * 6)
def test_design_sum_equals_c_cos_at_random_angles(name: str, k: int, angles: list[float]) -> None:
    """Float64 route, no sympy: the design's neurons sum to c cos(x_1 + ... + x_k - y)."""
    design = get_design(name, k)
    x, y = np.array(angles[:k]), angles[k]
    value, scale = design_sum(design, x, y)
    c = design.size * math.factorial(k) / 2**k
    note(f"value={value!r}, c cos={c * np.cos(x.sum() - y)!r}, scale={scale!r}")
    assert abs(value - c * np.cos(x.sum() - y)) <= IDENTITY_RTOL * scale


@given(name=design_names, k=st.integers(min_value=2, max_value=4), seed=seeds)
def test_float_route_refutes_a_design_missing_a_point(name: str, k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    full = get_design(name, k)
    design = without_point(full, int(rng.integers(full.size)))
    c = design.size * math.factorial(k) / 2**k
    residuals = []
    for _ in range(8):
        x, y = rng.uniform(-np.pi, np.pi, size=k), float(rng.uniform(-np.pi, np.pi))
        residuals.append(abs(design_sum(design, x, y)[0] - c * np.cos(x.sum() - y)))
    note(f"residuals={residuals}")
    assert max(residuals) > 1e-3  # the missing neuron has size ~1: far above IDENTITY_RTOL


# --- negative controls of the character check ----------------------------------------------------


@given(name=design_names, k=st.integers(min_value=2, max_value=4), data=st.data())
def test_character_check_rejects_a_design_missing_a_point(
    name: str, k: int, data: st.DataObject
) -> None:
    full = get_design(name, k)
    design = without_point(full, data.draw(st.integers(0, full.size - 1), label="index"))
    proof = prove_design(design)
    assert proof.failing
    assert not proof.holds
    assert proof.wanted_exact  # the phase-sum rule still holds: only the unwanted part breaks


@given(name=design_names, k=st.integers(min_value=2, max_value=4), data=st.data())
def test_character_check_rejects_a_broken_phase_sum(name: str, k: int, data: st.DataObject) -> None:
    """phi_w = sum phi_j + 2 pi o / N, o != 0: for all neurons (the sum is c cos(... - 2 pi o/N))
    or for one neuron (the unwanted characters stop cancelling as well)."""
    design = get_design(name, k)
    o = data.draw(st.integers(1, design.N - 1), label="o")
    proof = prove_design(design, phase_w_offset=o)
    assert proof.phase_rule_broken
    assert not proof.wanted_exact
    assert not proof.holds
    assert proof.failing == ()  # a common phase factor does not revive unwanted characters
    one = [0] * design.size
    one[data.draw(st.integers(0, design.size - 1), label="neuron")] = o
    proof_one = prove_design(design, phase_w_offset=one)
    assert proof_one.failing
    assert not proof_one.wanted_exact
    assert not proof_one.holds


@pytest.mark.parametrize("k", sorted(ORTHOGONAL_CHARACTERS))
def test_orthogonal_characters_bound_design_sizes(k: int) -> None:
    """The lower bound used below: every non-zero difference of ORTHOGONAL_CHARACTERS[k] is an
    unwanted character, and the lattice design (6 and 18 points) respects the bound."""
    unwanted = set(unwanted_characters(k))
    chars = ORTHOGONAL_CHARACTERS[k]
    for a, b in itertools.permutations(chars, 2):
        assert tuple(ai - bi for ai, bi in zip(a, b, strict=True)) in unwanted
    assert get_design("lattice", k).size >= len(chars)


@given(k=st.sampled_from(sorted(ORTHOGONAL_CHARACTERS)), N=st.integers(2, 12), data=st.data())
def test_character_check_rejects_too_small_random_designs(
    k: int, N: int, data: st.DataObject
) -> None:
    size = data.draw(st.integers(1, len(ORTHOGONAL_CHARACTERS[k]) - 1), label="size")
    rng = np.random.default_rng(data.draw(seeds, label="seed"))
    design = PhaseDesign("random", N, tuple(map(tuple, rng.integers(0, N, size=(size, k)))))
    proof = prove_design(design)
    assert proof.failing
    assert not proof.holds


def test_cyclotomic_reduction_agrees_with_sympy_remainder() -> None:
    """The reduction matrix of the margin route against sympy's Poly.rem by Phi_L (the design
    route): the same canonical coordinates for random integer vectors."""
    x = sp.Symbol("x")
    rng = np.random.default_rng(0)
    for L in [3, 4, 6, 9, 12, 15, 18, 20, 30, 45, 54, 90, 105, 126, 270]:
        R = _reduction_matrix(L)
        phi = sp.Poly(sp.cyclotomic_poly(L, x), x)
        for a in rng.integers(-5, 6, size=(3, L)):
            rem = sp.Poly(list(reversed(a.tolist())), x).rem(phi)
            coords = list(reversed(rem.all_coeffs()))
            coords += [0] * (R.shape[1] - len(coords))
            assert (a @ R).tolist() == [int(c) for c in coords]
            assert _vanishes(L, tuple(a.tolist())) == (not (a @ R).any())


# --- the frequency sum ---------------------------------------------------------------------------


@pytest.mark.parametrize("p", [3, 5, 7, 9, 11, 13, 15, 21, 25, 27])
def test_frequency_sum_is_half_p_minus_one_at_zero_and_minus_half_elsewhere(p: int) -> None:
    sums = frequency_sums_exact(p)
    assert len(sums) == p
    assert sums[0] == sp.Rational(p - 1, 2)
    assert all(s == sp.Rational(-1, 2) for s in sums[1:])
    # independent float route
    zeta = np.arange(1, (p - 1) // 2 + 1)
    floats = np.cos(2 * np.pi * np.outer(np.arange(p), zeta) / p).sum(axis=1)
    np.testing.assert_allclose(floats, [float(s) for s in sums], rtol=0, atol=1e-12)


# --- the exact margin ----------------------------------------------------------------------------

SMALL_P_K = [(3, 2), (5, 2), (7, 2), (3, 3), (5, 3), (9, 2), (15, 2)]
FAST_MARGIN_CASES = [(p, k, name) for p, k in SMALL_P_K for name in NAMES] + [
    (7, 3, "lattice"),
    (9, 3, "lattice"),
    (7, 3, "paper"),
    (5, 4, "grid3"),
    (5, 4, "paper"),
]


def check_exact_margin(p: int, k: int, name: str) -> None:
    result = exact_normalized_margin(p, k, name)
    design = get_design(name, k)
    assert result.logits_rational, result
    assert result.all_on_margin
    assert result.wrong_labels_tied
    assert result.equals_gamma_star
    assert result.holds
    assert sp.simplify(result.normalized_margin - gamma_star_exact(p, k)) == 0
    # the two exact routes agree on c: the unscaled network computes c * sum_zeta cos(...), whose
    # gap is c * ((p-1)/2 - (-1/2)) = c p / 2 (frequency sums), with c from the character proof
    c = prove_design(design).c
    assert result.margin == c * sp.Rational(p, 2)
    # every unscaled neuron has ||theta_i||^2 = (k+1) p / 2
    assert result.m == design.width(p)
    assert (
        sp.simplify(
            result.norm_power - result.m * sp.Rational((k + 1) * p, 2) ** sp.Rational(k + 1, 2)
        )
        == 0
    )
    # and the float route of theory.margins lands on the same number
    float_margin = normalized_margin(construct(p, k, design))
    assert float_margin == pytest.approx(float(result.normalized_margin), rel=MARGIN_RTOL)


@pytest.mark.parametrize(("p", "k", "name"), FAST_MARGIN_CASES)
def test_exact_margin_equals_gamma_star(p: int, k: int, name: str) -> None:
    check_exact_margin(p, k, name)


@pytest.mark.slow
def test_exact_margin_equals_gamma_star_lattice_5_4() -> None:
    check_exact_margin(5, 4, "lattice")


# --- negative controls of the exact margin -------------------------------------------------------


def assert_margin_refuted(p: int, k: int, design: PhaseDesign, **kwargs: object) -> None:
    result = exact_normalized_margin(p, k, design, **kwargs)  # type: ignore[arg-type]
    assert not result.holds, result
    assert not result.equals_gamma_star or not result.wrong_labels_tied
    assert float(result.normalized_margin) < float(gamma_star_exact(p, k)) * (1 - 1e-6)


@pytest.mark.parametrize(
    ("p", "k", "name"), [(5, 2, "paper"), (7, 2, "lattice"), (5, 3, "lattice")]
)
def test_exact_margin_refutes_a_design_missing_a_point(p: int, k: int, name: str) -> None:
    assert_margin_refuted(p, k, without_point(get_design(name, k), 1))


@pytest.mark.parametrize(("p", "k", "name"), [(5, 2, "paper"), (7, 2, "grid3"), (3, 3, "lattice")])
def test_exact_margin_refutes_a_broken_phase_sum(p: int, k: int, name: str) -> None:
    design = get_design(name, k)
    assert_margin_refuted(p, k, design, phase_w_offset=1)
    one = [0] * design.size
    one[2] = 1
    assert_margin_refuted(p, k, design, phase_w_offset=one)


@given(N=st.integers(2, 8), size=st.integers(1, 5), seed=seeds)
def test_exact_margin_refutes_too_small_random_designs(N: int, size: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    design = PhaseDesign("random", N, tuple(map(tuple, rng.integers(0, N, size=(size, 2)))))
    assert_margin_refuted(5, 2, design)


# --- bad input -----------------------------------------------------------------------------------


def test_exact_margin_refuses_too_much_work() -> None:
    design = get_design("lattice", 4)
    assert margin_work(31, 4, design) > 10**10
    with pytest.raises(FourierCircuitsError, match=r"p=31, k=4, design='lattice'.*\d\.\d+e\+\d+"):
        exact_normalized_margin(31, 4, "lattice")


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: exact_normalized_margin(4, 2, "paper"), "p=4"),
        (lambda: exact_normalized_margin(5, 1, "paper"), "k=1"),
        (lambda: exact_normalized_margin(5, 2, "nope"), "design='nope'"),
        (lambda: exact_normalized_margin(5, 3, get_design("paper", 2)), "k=2, not k=3"),
        (lambda: exact_normalized_margin(5, 2, "paper", phase_w_offset=[1, 2]), "phase_w_offset"),
        (lambda: prove_design("paper"), "design='paper'"),  # type: ignore[arg-type]
        (lambda: prove_design(get_design("paper", 2), phase_w_offset=1.5), "phase_w_offset"),  # type: ignore[arg-type]
        (lambda: prove_design(get_design("paper", 2), phase_w_offset=[True] * 8), "phase_w_offset"),
        (lambda: unwanted_characters(1), "k=1"),
        (lambda: frequency_sums_exact(4), "p=4"),
        (lambda: frequency_sums_exact(1), "p=1"),
        (lambda: expansion_residual(get_design("paper", 4)), "k <= 3"),
    ],
)
def test_bad_input_raises(call: object, match: str) -> None:
    with pytest.raises(FourierCircuitsError, match=match):
        call()  # type: ignore[operator]
