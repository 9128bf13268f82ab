"""The analytic constructions (constructions.analytic, constructions.designs) against Theorem 4.1
of arXiv 2402.09469 by brute force over D_p: every design reaches gamma* with every example on the
margin, nothing beats gamma*, and every way of breaking a construction is caught."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import example, given, note, settings
from hypothesis import strategies as st
from naive import logit_roundoff, naive_logits, naive_margins
from strategies import design_names, gaussian_networks, seeds

from fourier_circuits.constructions import (
    DESIGNS,
    PhaseDesign,
    construct,
    get_design,
    grid3_design,
    lattice_design,
    paper_design,
)
from fourier_circuits.testing import problems
from fourier_circuits.theory import (
    FourierCircuitsError,
    PolyNet,
    all_inputs,
    beta,
    check_certificate,
    gamma_star,
    labels,
    lattice_width,
    margin_report,
    normalized_margin,
    width_bound,
)
from fourier_circuits.theory.tolerances import MARGIN_RTOL

# Brute force over D_p stays fast: p^k <= this many inputs per example.
MAX_INPUTS = 5000
# The independent one-hot evaluation (tests/naive.py) runs whenever N * m * p is at most this.
NAIVE_WORK = 3 * 10**7

# Characters e^{i v.phi} averaged over a design of at most 162 points (k <= 5): each term is exact
# to a few eps, so a vanishing average is below 1e-13; a non-vanishing one is at least 1/|design|.
CHARACTER_ATOL = 1e-12

# A broken construction (a frequency dropped, neurons deleted, a broken design) keeps at most 69%
# of gamma* in every case measured here; demanding a ratio below 1 - 1e-3 leaves no doubt and is
# still a million times MARGIN_RTOL away from a correct construction.
BROKEN_RATIO = 1 - 1e-3

# Norms are sums of (k+1) p squares and one root, each exact to a few eps: 1e-12 is far above
# their round-off and far below any slip in the normalisation (which is O(1/m)).
NORM_RTOL = 1e-12


def matches_gamma_star(measured: float, claimed: float) -> bool:
    """The comparison every margin claim goes through: agreement to MARGIN_RTOL (relative)."""
    return math.isclose(measured, claimed, rel_tol=MARGIN_RTOL, abs_tol=0.0)


def unwanted_characters(k: int) -> set[tuple[int, ...]]:
    """The phase vectors v != 0 of the terms of (sum_j cos(phi_j + x_j))^k cos(sum phi + y)
    (THEORY.md, "Smaller designs"): v = n + s (1, ..., 1), s = +-1, n_j in {e_j, e_j - 2, ...,
    -e_j} for a composition e of k. Enumerated here term by term, independently of the designs."""
    found = set()
    for e in itertools.product(range(k + 1), repeat=k):
        if sum(e) != k:
            continue
        for n in itertools.product(*[range(-ej, ej + 1, 2) for ej in e]):
            for s in (1, -1):
                v = tuple(nj + s for nj in n)
                if any(v):
                    found.add(v)
    return found


def worst_character(design: PhaseDesign) -> float:
    """max over unwanted v of |mean over the design of e^{i v.phi}| (0 iff the identity holds)."""
    V = np.array(sorted(unwanted_characters(design.k)))  # (n_v, k)
    averages = np.exp(1j * design.phases @ V.T).mean(axis=0)  # (n_v,)
    return float(np.abs(averages).max())


# --- the designs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("k", "count"), [(2, 14), (3, 80), (4, 430)])
def test_unwanted_character_counts_match_theory(k: int, count: int) -> None:
    assert len(unwanted_characters(k)) == count


@pytest.mark.parametrize("k", [2, 3, 4, 5])
@pytest.mark.parametrize("name", sorted(DESIGNS))
def test_every_design_annihilates_every_unwanted_character(name: str, k: int) -> None:
    design = get_design(name, k)
    assert design.k == k
    assert worst_character(design) <= CHARACTER_ATOL


@pytest.mark.parametrize("k", [2, 3, 4])
def test_design_sizes(k: int) -> None:
    assert paper_design(k).size == 2 ** (2 * k - 1)
    assert grid3_design(k).size == 3**k
    assert lattice_design(k).size == 2 * 3 ** (k - 1)
    for name in DESIGNS:
        points = get_design(name, k).integer_points
        assert ((points >= 0) & (points < get_design(name, k).N)).all()


def broken_designs(k: int) -> dict[str, PhaseDesign]:
    """Designs whose phase sums break the identity (negative controls)."""
    paper = paper_design(k)
    return {
        # phi_1 in {0} only: the character v = (2, 0, ..., 0) survives (shift by pi is not free)
        "paper without phi_1 = pi/2": PhaseDesign(
            "half-paper", 4, tuple(pt for pt in paper.points if pt[0] == 0)
        ),
        "one point": PhaseDesign("single", 4, ((0,) * k,)),
        # the lattice with the last generator changed: z = (1, 3, ..., 3^(k-2), 3^(k-1))
        "wrong lattice generator": PhaseDesign.lattice(
            "bad-lattice", 2 * 3 ** (k - 1), [3**j for j in range(k)]
        ),
        "grid of halves": PhaseDesign.grid("halves", 2, [(0, 1)] * k),
    }


@pytest.mark.parametrize("k", [2, 3])
def test_broken_designs_leave_a_character(k: int) -> None:
    for name, design in broken_designs(k).items():
        assert worst_character(design) > 0.1, name


# --- the main law: every construction reaches gamma* ---------------------------------------------


def naive_check(net: PolyNet) -> None:
    """The margins from the one-hot definition: all equal gamma* * ||theta||^(k+1) and all wrong
    labels tied, to the round-off bound of the sums."""
    a = all_inputs(net.task)
    logits = naive_logits(net, a)
    y = labels(a, net.p)
    g, g_weighted = naive_margins(logits, y)
    tol = 2 * logit_roundoff(net, a).max()
    norm_power = net.norm() ** (net.k + 1)
    target = gamma_star(net.p, net.k) * norm_power
    note(f"naive: min g = {g.min()!r}, max g = {g.max()!r}, target {target!r}, tol {tol:.2e}")
    assert abs(g.min() - target) <= tol + MARGIN_RTOL * target
    assert g.max() - g.min() <= tol
    assert np.abs(g_weighted - g).max() <= tol  # Condition 3.8: wrong labels tied
    wrong = np.where(np.arange(net.p)[None, :] == y[:, None], np.nan, logits)
    assert (np.nanmax(wrong, axis=1) - np.nanmin(wrong, axis=1)).max() <= tol


@settings(max_examples=40)
@given(problems(max_examples=MAX_INPUTS), design_names)
@example((9, 2), "paper")
@example((9, 3), "lattice")
@example((15, 2), "grid3")
@example((15, 3), "paper")
@example((5, 4), "lattice")
@example((7, 4), "paper")
def test_construction_margin_equals_gamma_star(pk: tuple[int, int], design: str) -> None:
    p, k = pk
    net = construct(p, k, design)
    assert net.m == get_design(design, k).width(p)
    # normalised by construction; a norm is a sum of (k+1) p squares and a root: ~p eps
    assert net.norm() == pytest.approx(1.0, rel=NORM_RTOL)
    np.testing.assert_allclose(net.neuron_norms(), net.m ** (-1 / (k + 1)), rtol=NORM_RTOL)
    report = margin_report(net)
    note(f"{design} p={p} k={k} m={net.m}: {report}")
    assert matches_gamma_star(report.normalized_margin, gamma_star(p, k))
    assert report.all_correct
    assert report.all_on_margin
    assert report.wrong_labels_tied
    assert check_certificate(net, report=report).holds
    if net.task.n_examples * net.m * p <= NAIVE_WORK:
        naive_check(net)


def test_the_widths_are_the_closed_forms() -> None:
    assert construct(7, 3).m == width_bound(7, 3) == 96
    assert construct(7, 3, "lattice").m == lattice_width(7, 3) == 54
    assert construct(5, 4, "lattice").m == lattice_width(5, 4) == 108


@pytest.mark.slow
def test_construction_at_the_papers_size() -> None:
    """p = 97, k = 3, m = 1536: all 912,673 inputs (about 5 s on 2 cores)."""
    net = construct(97, 3)
    assert net.m == width_bound(97, 3) == 1536
    report = margin_report(net)
    assert matches_gamma_star(report.normalized_margin, gamma_star(97, 3))
    assert report.all_correct and report.n_examples == 912_673
    assert check_certificate(net, report=report).holds


# --- symmetry of the construction ----------------------------------------------------------------


@settings(max_examples=20)
@given(problems(max_examples=MAX_INPUTS), design_names, st.data())
def test_construction_logits_depend_only_on_sum_minus_label(
    pk: tuple[int, int], design: str, data: st.DataObject
) -> None:
    """The construction computes a function of (a_1 + ... + a_k - c) mod p only, so
    f(a + s e_j)[c + s] = f(a)[c] and example margins are unchanged by a_j -> a_j + s."""
    p, k = pk
    net = construct(p, k, design)
    rng = np.random.default_rng(data.draw(seeds, label="seed"))
    a = rng.integers(0, p, size=(32, k))
    j = data.draw(st.integers(0, k - 1), label="j")
    s = data.draw(st.integers(1, p - 1), label="s")
    b = a.copy()
    b[:, j] = (b[:, j] + s) % p
    f_a, f_b = net.logits(a), net.logits(b)
    tol = logit_roundoff(net, a).max() + logit_roundoff(net, b).max()
    np.testing.assert_allclose(np.roll(f_b, -s, axis=1), f_a, rtol=0, atol=tol)


def test_shift_symmetry_fails_for_a_random_network() -> None:
    """Negative control for the symmetry check above."""
    rng = np.random.default_rng(0)
    net = PolyNet(rng.standard_normal((20, 3, 7)), rng.standard_normal((20, 7)))
    a = rng.integers(0, 7, size=(32, 3))
    b = a.copy()
    b[:, 0] = (b[:, 0] + 2) % 7
    shifted = np.roll(net.logits(b), -2, axis=1)
    assert np.abs(shifted - net.logits(a)).max() > 1e3 * logit_roundoff(net, a).max()


# --- nothing beats gamma* ------------------------------------------------------------------------


@settings(max_examples=40)
@given(gaussian_networks(problems(max_examples=2000), max_width=128))
def test_no_random_network_beats_gamma_star(net: PolyNet) -> None:
    ratio = normalized_margin(net) / gamma_star(net.p, net.k)
    note(f"margin ratio {ratio!r}")
    assert ratio <= 1 + MARGIN_RTOL


@settings(max_examples=25)
@given(
    problems(max_examples=MAX_INPUTS),
    design_names,
    seeds,
    st.floats(min_value=-9, max_value=-1).map(lambda e: 10.0**e),
    st.sampled_from(["weights", "neuron scales", "phases"]),
)
def test_no_perturbed_construction_beats_gamma_star(
    pk: tuple[int, int], design: str, seed: int, eps: float, how: str
) -> None:
    p, k = pk
    net = construct(p, k, design)
    rng = np.random.default_rng(seed)
    if how == "weights":
        size = beta(p, k) * net.m ** (-1 / (k + 1))  # the size of a weight of the construction
        U = net.U + eps * size * rng.standard_normal(net.U.shape)
        W = net.W + eps * size * rng.standard_normal(net.W.shape)
    elif how == "neuron scales":  # a non-uniform mixture of optimal neurons (Lemma E.1)
        alpha = np.exp(eps * rng.standard_normal(net.m))
        U, W = alpha[:, None, None] * net.U, alpha[:, None] * net.W
    else:  # each neuron's cosines get random phase errors
        U, W = _rephased(net, eps * rng.standard_normal((net.m, k + 1)))
    ratio = normalized_margin(PolyNet(U, W)) / gamma_star(p, k)
    note(f"{how}, eps={eps:.1e}: margin ratio {ratio!r}")
    assert ratio <= 1 + MARGIN_RTOL


def _rephased(net: PolyNet, delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shift the phase of every cosine of every neuron by delta (m, k+1): u -> u(phi + delta).

    A cosine vector c cos(phi + x) rotated by delta is cos(delta) u - sin(delta) u', where u' is
    the quadrature vector; for a single-frequency cosine sampled at x = 2 pi zeta a / p the DFT
    gives it exactly, so we rotate through the FFT."""

    def rotate(v: np.ndarray, d: np.ndarray) -> np.ndarray:
        spectrum = np.fft.fft(v, axis=-1)
        freq = np.fft.fftfreq(v.shape[-1]) * v.shape[-1]
        spectrum = spectrum * np.exp(1j * np.sign(freq) * d[..., None])
        return np.fft.ifft(spectrum, axis=-1).real

    U = rotate(net.U, delta[:, :-1])
    W = rotate(net.W, delta[:, -1])
    return U, W


# --- negative controls: every broken construction is refuted ---------------------------------


@pytest.mark.parametrize(
    ("p", "k", "design"), [(7, 2, "paper"), (7, 3, "lattice"), (5, 4, "grid3")]
)
def test_dropping_a_frequency_is_refuted(p: int, k: int, design: str) -> None:
    """Theorem 4.1 (iii): a max-margin network uses every frequency."""
    full = range(1, (p - 1) // 2 + 1)
    for dropped in full:
        net = construct(p, k, design, frequencies=[z for z in full if z != dropped])
        report = margin_report(net)
        assert report.margin_ratio < BROKEN_RATIO, (dropped, report.margin_ratio)
        assert not matches_gamma_star(report.normalized_margin, gamma_star(p, k))
        assert not check_certificate(net, report=report).holds


@pytest.mark.parametrize(
    ("p", "k", "design"), [(7, 2, "paper"), (7, 3, "lattice"), (5, 3, "grid3")]
)
def test_a_width_below_the_design_is_refuted(p: int, k: int, design: str) -> None:
    net = construct(p, k, design)
    rng = np.random.default_rng(1)
    cases = {
        "one neuron deleted": np.delete(np.arange(net.m), rng.integers(net.m)),
        "one design point deleted at every frequency": np.arange(net.m) % get_design(design, k).size
        != 0,
        "half the neurons": np.arange(net.m) % 2 == 0,
    }
    for name, keep in cases.items():
        smaller = net.select(keep)
        report = margin_report(smaller)
        assert smaller.m < get_design(design, k).width(p), name
        assert report.margin_ratio < BROKEN_RATIO, (name, report.margin_ratio)
        assert not check_certificate(smaller, report=report).holds, name


@pytest.mark.parametrize("k", [2, 3])
def test_broken_designs_are_refuted(k: int) -> None:
    p = 7
    for name, design in broken_designs(k).items():
        net = construct(p, k, design)
        report = margin_report(net)
        assert report.margin_ratio < BROKEN_RATIO, (name, report.margin_ratio)
        assert not check_certificate(net, report=report).holds, name


@settings(max_examples=15)
@given(
    problems(max_examples=2000),
    design_names,
    st.floats(min_value=1e-3, max_value=np.pi) | st.floats(min_value=-np.pi, max_value=-1e-3),
)
def test_a_broken_phase_sum_is_refuted(pk: tuple[int, int], design: str, delta: float) -> None:
    """phi_w = phi_1 + ... + phi_k + delta instead of the sum (Theorem 4.1 (ii)): the phase of
    every output cosine is shifted by delta."""
    p, k = pk
    net = construct(p, k, design)
    deltas = np.zeros((net.m, k + 1))
    deltas[:, -1] = delta
    U, W = _rephased(net, deltas)
    report = margin_report(PolyNet(U, W))
    note(f"delta={delta}: {report}")
    # the wrong-label logits pick up sin(delta) times a sum of sines of size >= sqrt(3)/2 while
    # the gap p/2 shrinks by cos(delta): the ratio loses at least |delta|/2 >= 5e-4
    assert report.margin_ratio < 1 - 1e-4
    assert not check_certificate(PolyNet(U, W), report=report).holds


def test_rephasing_by_zero_keeps_the_construction() -> None:
    """The phase-shift helper itself: delta = 0 changes nothing, delta on all inputs of one
    neuron compensated on its output keeps the phase sum and hence gamma*."""
    net = construct(7, 3)
    U, W = _rephased(net, np.zeros((net.m, 4)))
    # an FFT round trip of p values of size <= beta < 1 errs by ~log2(p) eps
    np.testing.assert_allclose(U, net.U, rtol=0, atol=16 * np.finfo(float).eps)
    shift = np.zeros((net.m, 4))
    shift[:, 0], shift[:, 3] = 0.3, 0.3  # phi_1 + 0.3 and phi_w + 0.3: the sum rule holds
    U, W = _rephased(net, shift)
    assert matches_gamma_star(normalized_margin(PolyNet(U, W)), gamma_star(7, 3))


@pytest.mark.parametrize("excess", [1e-2, 1e-6])
def test_a_margin_claimed_too_high_is_rejected(excess: float) -> None:
    measured = normalized_margin(construct(7, 3, "lattice"))
    assert matches_gamma_star(measured, gamma_star(7, 3))
    assert not matches_gamma_star(measured, gamma_star(7, 3) * (1 + excess))
    assert not matches_gamma_star(measured * (1 + excess), gamma_star(7, 3))


# --- validation of construct ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"p": 7, "k": 3, "design": "nonsense"}, r"design='nonsense' is unknown; choose one of"),
        ({"p": 7, "k": 3, "design": paper_design(2)}, "design 'paper' is for k=2, not k=3"),
        ({"p": 7, "k": 3, "frequencies": []}, "non-empty subset of 1..\\(p-1\\)/2 = 1..3"),
        ({"p": 7, "k": 3, "frequencies": [0, 1]}, "non-empty subset"),
        ({"p": 7, "k": 3, "frequencies": [4]}, "non-empty subset"),
        ({"p": 7, "k": 3, "frequencies": [1.5]}, "must be integers"),
        ({"p": 8, "k": 3}, "p=8 must be an odd integer"),
        ({"p": 7, "k": 1}, "k=1 must be an integer >= 2"),
    ],
)
def test_construct_refuses_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(FourierCircuitsError, match=match):
        construct(**kwargs)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("x", 0, ((0, 0),)), "N=0 must be an integer >= 1"),
        (("x", 4, ()), "has no points"),
        (("x", 4, ((0, 0), (0, 0, 0))), "must all have length k=2"),
        (("x", 4, ((0,),)), "k=1 must be an integer >= 2"),
    ],
)
def test_phase_design_refuses_bad_points(args: tuple, match: str) -> None:
    with pytest.raises(FourierCircuitsError, match=match):
        PhaseDesign(*args)


def test_construction_metadata_says_how_it_was_made() -> None:
    net = construct(7, 2, "lattice", frequencies=[3, 1])
    assert net.meta["design"] == "lattice"
    assert net.meta["frequencies"] == [1, 3]
