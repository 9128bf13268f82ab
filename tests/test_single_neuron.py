"""The single-neuron problem (theory.single_neuron): Lemmas F.5-F.8 of arXiv 2402.09469 v3
(THEORY.md, proof outline step 1), each checked against an independent route: brute force over
D_p, the network code of theory.margins, exact cyclotomic arithmetic, and a numeric optimiser."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import example, given, note, settings
from hypothesis import strategies as st
from strategies import seeds

from fourier_circuits.constructions import DESIGNS, construct
from fourier_circuits.testing import problems
from fourier_circuits.theory import (
    FourierCircuitsError,
    PolyNet,
    all_inputs,
    class_weighted_margins,
    fourier_summary,
    gamma_star,
    gamma_star_exact,
    maximise_single_neuron,
    neuron_objectives,
    optimal_neuron,
    single_neuron_eta,
    single_neuron_max_exact,
    single_neuron_objective,
    single_neuron_objective_fourier,
)
from fourier_circuits.theory.tolerances import MARGIN_RTOL

# Keep brute force over D_p fast: at most this many inputs per test case.
MAX_EXAMPLES = 3000

# Brute force sums p^k terms of size up to max|z|^k max|w|; its float64 error relative to that
# scale is below p^k * eps ~ 1e-12 here, so 1e-10 of the scale separates round-off from a wrong
# formula (the wrong convention below is off by O(1) of the scale).
ROUTE_RTOL = 1e-10

# The phases of an optimiser's neuron are pinned only to ~sqrt(eps) ~ 1e-8: J is flat to second
# order in the phase residual (J = gamma* cos(residual)), and amplitudes likewise; 1e-6 leaves
# two orders of magnitude and still rejects any misaligned neuron (which loses >= 1e-12 of J).
OPTIMISER_STRUCTURE_TOL = 1e-6

#: (p, k): p odd in 3..13 (composite 9 included), k in 2..4, p^k <= MAX_EXAMPLES.
TASKS = problems(max_p=13, max_examples=MAX_EXAMPLES)


def random_neuron(p: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A Gaussian neuron scaled to unit norm ||u||^2 + ||w||^2 = 1."""
    x = np.random.default_rng(seed).standard_normal((k + 1, p))
    x /= np.linalg.norm(x)
    return x[:k], x[k]


def scale_of(u: np.ndarray, w: np.ndarray) -> float:
    """max |f| of the neuron: the size of the terms every route sums."""
    return float(np.abs(u).max(axis=1).sum() ** u.shape[0] * np.abs(w).max())


# --- Lemma F.5-F.7: three forms of the same objective ------------------------------------------


@given(TASKS, seeds)
@example((5, 2), 0)
@example((7, 3), 0)
@example((5, 4), 0)
@example((9, 3), 1)
@settings(deadline=None)
def test_fourier_objective_equals_direct(task: tuple[int, int], seed: int) -> None:
    """E_a[f[y] - (1/(p-1)) sum_{c != y} f[c]]
    = (k! / ((p-1) p^k)) sum_{j != 0} w^(-j) prod_i u_i^(j)   (Lemma F.7, numpy.fft.fft's DFT)."""
    p, k = task
    u, w = random_neuron(p, k, seed)
    direct = single_neuron_objective(u, w)
    fourier = single_neuron_objective_fourier(u, w)
    note(f"direct {direct!r}, fourier {fourier!r}")
    assert fourier == pytest.approx(direct, rel=0, abs=ROUTE_RTOL * scale_of(u, w))


@given(TASKS, seeds)
@example((7, 3), 0)
@settings(deadline=None)
def test_eta_form_equals_direct(task: tuple[int, int], seed: int) -> None:
    """J = (p/(p-1)) (eta(0) - E_d eta(d)) (Lemmas F.5-F.8 of v3; THEORY.md proof step 1)."""
    p, k = task
    u, w = random_neuron(p, k, seed)
    e = single_neuron_eta(u, w)
    from_eta = p / (p - 1) * (e[0] - e.mean())
    assert from_eta == pytest.approx(
        single_neuron_objective(u, w), rel=0, abs=ROUTE_RTOL * scale_of(u, w)
    )


@given(problems(max_p=13, max_examples=1000), seeds)
@settings(deadline=None, max_examples=20)
def test_direct_objective_is_the_networks_class_weighted_margin(
    task: tuple[int, int], seed: int
) -> None:
    """The one-neuron PolyNet's mean class-weighted margin over D_p (theory.margins) is J."""
    p, k = task
    u, w = random_neuron(p, k, seed)
    net = PolyNet(u[None], w[None])
    mean_margin = float(class_weighted_margins(net, all_inputs(net.task)).mean())
    assert mean_margin == pytest.approx(
        single_neuron_objective(u, w), rel=0, abs=ROUTE_RTOL * scale_of(u, w)
    )
    assert neuron_objectives(net)[0] == pytest.approx(
        mean_margin, rel=0, abs=ROUTE_RTOL * scale_of(u, w)
    )


def unconjugated_form(u: np.ndarray, w: np.ndarray) -> float:
    """The Fourier form with the wrong convention: w^(+j) instead of w^(-j)."""
    k, p = u.shape
    u_hat, w_hat = np.fft.fft(u, axis=-1), np.fft.fft(w)
    total = np.sum(w_hat[1:] * np.prod(u_hat[:, 1:], axis=0))
    return math.factorial(k) / ((p - 1) * p**k) * float(np.real(total))


@given(TASKS, seeds)
@example((5, 2), 0)
@settings(deadline=None)
def test_unconjugated_fourier_form_disagrees(task: tuple[int, int], seed: int) -> None:
    """Negative control for the convention: w^(+j) prod u_i^(j) (w not conjugated) is not J."""
    p, k = task
    u, w = random_neuron(p, k, seed)
    right = single_neuron_objective(u, w)
    wrong = unconjugated_form(u, w)
    note(f"right {right!r}, wrong {wrong!r}")
    assert abs(wrong - right) > 1e3 * ROUTE_RTOL * scale_of(u, w)
    # on an optimal neuron it reads gamma* cos(phi_1 + ... + phi_k + phi_w), not gamma* cos(0)
    uo, wo = optimal_neuron(p, k, 1, [0.4] * k)
    assert unconjugated_form(uo, wo) == pytest.approx(gamma_star(p, k) * np.cos(0.8 * k), rel=1e-9)
    assert single_neuron_objective_fourier(uo, wo) == pytest.approx(
        gamma_star(p, k), rel=MARGIN_RTOL
    )


def test_network_objective_of_construction_is_gamma_star() -> None:
    """Morwani Lemma 5 (v3 E.1): unit-norm mixtures of optimal neurons keep J = gamma*."""
    for design in sorted(DESIGNS):
        net = construct(7, 3, design)
        assert net.norm() == pytest.approx(1.0, rel=1e-12)
        assert neuron_objectives(net).sum() == pytest.approx(gamma_star(7, 3), rel=MARGIN_RTOL)


# --- Lemma F.8: the maximum is gamma*, at single-frequency cosines -----------------------------


@given(TASKS, seeds, st.floats(min_value=0.0, max_value=1.0))
@example((5, 2), 0, 0.0)
@example((7, 3), 0, 0.01)
@settings(deadline=None)
def test_single_neuron_objective_never_exceeds_gamma_star(
    task: tuple[int, int], seed: int, t: float
) -> None:
    """Unit neurons, random (t = 1) or an optimal one perturbed by t, have J <= gamma*."""
    p, k = task
    rng = np.random.default_rng(seed)
    uo, wo = optimal_neuron(p, k, int(rng.integers(1, (p - 1) // 2 + 1)), rng.uniform(0, 7, k))
    noise_u, noise_w = random_neuron(p, k, seed)
    x = np.vstack([uo, wo]) * (1 - t) + t * np.vstack([noise_u, noise_w])
    x /= np.linalg.norm(x)
    value = single_neuron_objective(x[:k], x[k])
    note(f"J / gamma* = {value / gamma_star(p, k)!r}")
    assert value <= gamma_star(p, k) * (1 + MARGIN_RTOL)


@given(TASKS, st.data())
@example((5, 2), None)
@example((9, 3), None)
@settings(deadline=None)
def test_optimal_neuron_attains_gamma_star(
    task: tuple[int, int], data: st.DataObject | None
) -> None:
    """optimal_neuron has unit norm and J = gamma* by brute force over D_p, any zeta and phases."""
    p, k = task
    if data is None:
        zeta, phases = (p - 1) // 2, [0.0] * k
    else:
        zeta = data.draw(st.integers(min_value=1, max_value=(p - 1) // 2), label="zeta")
        phases = data.draw(st.lists(st.floats(-10, 10), min_size=k, max_size=k), label="phases")
    u, w = optimal_neuron(p, k, zeta, phases)
    assert np.sum(u**2) + np.sum(w**2) == pytest.approx(1.0, rel=1e-14)
    assert single_neuron_objective(u, w) == pytest.approx(gamma_star(p, k), rel=MARGIN_RTOL)
    summary = fourier_summary(PolyNet(u[None], w[None]))
    assert summary.all_single_frequency and summary.phase_sums_vanish
    assert summary.neurons_per_frequency[zeta] == 1


@given(problems(max_p=13, max_examples=20_000), st.data())
@example((5, 2), None)
@example((7, 3), None)
@example((5, 4), None)
@example((9, 3), None)
@settings(deadline=None, max_examples=15)
def test_exact_single_neuron_max_is_gamma_star(
    task: tuple[int, int], data: st.DataObject | None
) -> None:
    """In Q(e^{2 pi i/p}), the Fourier form at the optimal neuron simplifies to gamma*_exact."""
    p, k = task
    zeta = 1 if data is None else data.draw(st.integers(1, (p - 1) // 2), label="zeta")
    value = single_neuron_max_exact(p, k, zeta=zeta)
    note(f"exact value {value}")
    assert sp.simplify(value - gamma_star_exact(p, k)) == 0


@pytest.mark.parametrize(
    ("p", "k", "zeta"),
    [(3, 2, 1), (11, 6, 3), (15, 5, 7), (29, 4, 1), (31, 3, 9), (101, 2, 50), (107, 3, 1)],
)
def test_exact_single_neuron_max_is_gamma_star_in_the_same_form(p: int, k: int, zeta: int) -> None:
    """The exact maximiser comes out in the canonical form of gamma_star_exact, so the two are
    equal as sympy expressions, not only after simplify. (107, 3): sp.nsimplify, used here once,
    re-guessed the number from its float value and returned a product of 20th roots."""
    value = single_neuron_max_exact(p, k, zeta=zeta)
    assert value == gamma_star_exact(p, k), value
    assert value != gamma_star_exact(p, k) * sp.Rational(101, 100)  # a claim 1% too high fails


def test_exact_single_neuron_max_with_python_integers_agrees(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where int64 could overflow the exact maximiser computes in Python integers; forcing that
    path (bound 0) must give the same exact value as the int64 path."""
    from fourier_circuits.theory import single_neuron

    want = [single_neuron_max_exact(p, k, zeta=z) for p, k, z in ((7, 3, 2), (9, 4, 4))]
    monkeypatch.setattr(single_neuron, "INT64_SAFE", 0)
    got = [single_neuron_max_exact(p, k, zeta=z) for p, k, z in ((7, 3, 2), (9, 4, 4))]
    assert got == want == [gamma_star_exact(7, 3), gamma_star_exact(9, 4)]


def test_broken_phase_sum_scales_objective_by_cosine() -> None:
    """Negative control: phi_w = sum phi + delta gives J = gamma* cos(delta) < gamma*."""
    p, k = 7, 3
    u, _ = optimal_neuron(p, k, 2, [0.3, 1.0, -0.5])
    for delta in (1e-3, 0.5, np.pi / 2, np.pi):
        _, w = optimal_neuron(p, k, 2, [0.3 + delta, 1.0, -0.5])
        assert single_neuron_objective(u, w) == pytest.approx(
            gamma_star(p, k) * np.cos(delta), rel=1e-9, abs=1e-15
        )


@given(problems(min_p=5, max_p=13, max_examples=MAX_EXAMPLES), st.data())  # p = 3: one frequency
@settings(deadline=None)
def test_splitting_across_frequencies_loses_factor(
    task: tuple[int, int], data: st.DataObject
) -> None:
    """Negative control: (n1 + n2)/sqrt(2) for optimal n1, n2 of two frequencies has
    J = 2 (1/sqrt 2)^(k+1) gamma* = 2^((1-k)/2) gamma* < gamma*: a neuron must not mix."""
    p, k = task
    z1, z2 = data.draw(st.lists(st.integers(1, (p - 1) // 2), min_size=2, max_size=2, unique=True))
    u1, w1 = optimal_neuron(p, k, z1, [0.0] * k)
    u2, w2 = optimal_neuron(p, k, z2, [1.0] * k)
    u, w = (u1 + u2) / np.sqrt(2), (w1 + w2) / np.sqrt(2)
    assert single_neuron_objective(u, w) == pytest.approx(
        2 ** ((1 - k) / 2) * gamma_star(p, k), rel=1e-9
    )


@given(
    st.sampled_from(
        [(3, 2), (5, 2), (7, 2), (9, 2), (3, 3), (5, 3), (7, 3), (9, 3), (3, 4), (5, 4), (7, 4)]
    ),
    seeds,
)
@example((5, 2), 0)
@example((7, 4), 0)
@settings(deadline=None, max_examples=10)
def test_numeric_maximum_is_gamma_star(task: tuple[int, int], seed: int) -> None:
    """An optimiser over the unit sphere from random starts finds gamma* and no more, at a
    single-frequency neuron with balanced amplitudes and phi_1 + ... + phi_k = phi_w."""
    p, k = task
    best = maximise_single_neuron(p, k, rng=np.random.default_rng(seed), starts=4)
    g = gamma_star(p, k)
    note(f"values / gamma* = {best.values / g}")
    # the optimiser reports the Fourier form; brute force over D_p re-evaluates its neuron
    value = single_neuron_objective(best.u, best.w)
    assert value == pytest.approx(best.value, rel=1e-9)
    assert np.max(best.values) <= g * (1 + MARGIN_RTOL)
    assert value <= g * (1 + MARGIN_RTOL)
    assert value >= g * (1 - 1e-6)
    summary = fourier_summary(PolyNet(best.u[None], best.w[None]))
    note(repr(summary))
    assert summary.all_single_frequency
    assert summary.neurons_per_frequency[0] == 0
    assert summary.max_phase_residual <= OPTIMISER_STRUCTURE_TOL
    assert summary.min_amplitude_balance >= 1 - OPTIMISER_STRUCTURE_TOL


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("u", "w", "fragment"),
    [
        (np.zeros((2, 4)), np.zeros(4), "p=4"),
        (np.zeros((1, 5)), np.zeros(5), "k=1"),
        (np.zeros(5), np.zeros(5), "axes"),
        (np.zeros((2, 5)), np.zeros(7), r"w has shape \(7,\)"),
        (np.full((2, 5), np.nan), np.zeros(5), "non-finite"),
        (np.zeros((2, 5), dtype=bool), np.zeros(5), "dtype"),
    ],
)
def test_bad_neurons_are_refused(u: np.ndarray, w: np.ndarray, fragment: str) -> None:
    for fn in (single_neuron_objective, single_neuron_objective_fourier, single_neuron_eta):
        with pytest.raises(FourierCircuitsError, match=fragment):
            fn(u, w)


def test_bad_optimal_neuron_arguments_are_refused() -> None:
    with pytest.raises(FourierCircuitsError, match="zeta=0"):
        optimal_neuron(7, 2, 0, [0.0, 0.0])
    with pytest.raises(FourierCircuitsError, match="zeta=4"):
        optimal_neuron(7, 2, 4, [0.0, 0.0])
    with pytest.raises(FourierCircuitsError, match="phases"):
        optimal_neuron(7, 3, 1, [0.0, 0.0])
    with pytest.raises(FourierCircuitsError, match="phases"):
        optimal_neuron(7, 2, 1, ["a", "b"])
    with pytest.raises(FourierCircuitsError, match="zeta=4"):
        single_neuron_max_exact(7, 2, zeta=4)
    with pytest.raises(FourierCircuitsError, match="starts=0"):
        maximise_single_neuron(5, 2, rng=np.random.default_rng(0), starts=0)
    with pytest.raises(FourierCircuitsError, match="p=6"):
        optimal_neuron(6, 2, 1, [0.0, 0.0])
