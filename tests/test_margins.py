"""Margins (theory.margins): Defs 3.2-3.6 of arXiv 2402.09469, Condition 3.8 and the certificate
pair of Def 3.5, each against a naive computation, with negative controls the checks must refute."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, note, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from naive import lexicographic_inputs, logit_roundoff, naive_logits, naive_margins
from strategies import gaussian_networks, seeds

from fourier_circuits.constructions import construct
from fourier_circuits.testing import problems
from fourier_circuits.theory import (
    FourierCircuitsError,
    PolyNet,
    Task,
    all_inputs,
    check_certificate,
    class_weighted_margins,
    condition_3_8,
    dataset_margin,
    example_margins,
    gamma_star,
    labels,
    margin_report,
    margin_report_by_part,
    margins_from_logits,
    normalized_margin,
    part_index,
)
from fourier_circuits.theory.tolerances import MARGIN_RTOL, TIE_RTOL

small_networks = gaussian_networks(problems(max_examples=1500), max_width=48)


def naive_report(net: PolyNet) -> dict[str, np.ndarray | float]:
    """Every margin statistic from the one-hot definition over all of D_p (not PolyNet.logits)."""
    a = all_inputs(net.task)
    logits = naive_logits(net, a)
    g, g_weighted = naive_margins(logits, labels(a, net.p))
    return {
        "g": g,
        "g_weighted": g_weighted,
        "margin_tol": 2 * logit_roundoff(net, a).max(),  # a margin is a difference of two logits
        "scale": float(np.abs(logits).max()),
    }


# --- margins from logits -------------------------------------------------------------------------

logit_tables = st.integers(min_value=3, max_value=15).flatmap(
    lambda p: st.tuples(
        hnp.arrays(
            np.float64,
            st.tuples(st.integers(1, 30), st.just(p)),
            # small integers make exact ties (wrong labels tied, the label tied with a wrong one)
            elements=st.integers(-3, 3).map(float) | st.floats(-1e6, 1e6),
        ),
        st.just(p),
    )
)


@given(logit_tables, seeds)
def test_margins_from_logits_match_sorting(table: tuple[np.ndarray, int], seed: int) -> None:
    logits, p = table
    y = np.random.default_rng(seed).integers(0, p, size=len(logits))
    g, g_weighted = margins_from_logits(logits.copy(), y)
    want_g, want_weighted = naive_margins(logits, y)
    np.testing.assert_array_equal(g, want_g)  # a max and a difference: exact
    # a mean of p - 1 values, summed in two orders: round-off of p eps of the largest |logit|
    atol = 4 * p * np.finfo(float).eps * max(float(np.abs(logits).max()), 1.0)
    np.testing.assert_allclose(g_weighted, want_weighted, rtol=0, atol=atol)


@given(logit_tables, seeds)
def test_class_weighted_margin_is_at_least_the_margin(
    table: tuple[np.ndarray, int], seed: int
) -> None:
    """g' >= g (Def 3.6): a mean over the wrong labels is at most their maximum."""
    logits, p = table
    y = np.random.default_rng(seed).integers(0, p, size=len(logits))
    g, g_weighted = margins_from_logits(logits, y)
    atol = 4 * p * np.finfo(float).eps * max(float(np.abs(logits).max()), 1.0)
    assert (g_weighted >= g - atol).all()


# --- streamed statistics against the naive route -----------------------------------------------


@settings(max_examples=30)
@given(small_networks)
@example(construct(9, 3))
@example(construct(15, 2, "lattice"))
def test_margin_report_agrees_with_the_naive_evaluation(net: PolyNet) -> None:
    want = naive_report(net)
    g, g_weighted, tol = want["g"], want["g_weighted"], want["margin_tol"]
    report = margin_report(net, workers=2)
    note(f"report={report}")
    norm_power = net.norm() ** (net.k + 1)
    assert report.n_examples == net.p**net.k
    assert abs(report.margin - g.min()) <= tol
    assert abs(report.normalized_margin * norm_power - g.min()) <= tol
    assert abs(g[report.argmin] - g.min()) <= 2 * tol  # an argmin (ties may pick another)
    assert abs(report.margin_spread - (g.max() - g.min())) <= 2 * tol
    assert abs(report.mean_class_weighted * norm_power - g_weighted.mean()) <= tol
    assert abs(report.scale - want["scale"]) <= tol  # the largest |logit|, to its round-off
    # examples within round-off of 0 may be classified either way
    undecided = int(np.count_nonzero(np.abs(g) <= tol))
    assert abs(report.n_correct - int(np.count_nonzero(g > 0))) <= undecided
    assert abs(dataset_margin(net, workers=1) - g.min()) <= tol
    assert abs(normalized_margin(net, workers=3) * norm_power - g.min()) <= tol
    # the class-weighted margin is at least the margin on every example (Def 3.6)
    assert report.mean_class_weighted >= report.normalized_margin - tol / norm_power


@settings(max_examples=15)
@given(small_networks, st.data())
def test_example_margins_agree_with_the_naive_evaluation(net: PolyNet, data: st.DataObject) -> None:
    a = all_inputs(net.task)
    rows = data.draw(st.lists(st.integers(0, len(a) - 1), min_size=1, max_size=40), label="rows")
    batch = a[rows]
    g, g_weighted = naive_margins(naive_logits(net, batch), labels(batch, net.p))
    tol = 2 * logit_roundoff(net, batch).max()
    np.testing.assert_allclose(example_margins(net, batch), g, rtol=0, atol=tol)
    np.testing.assert_allclose(class_weighted_margins(net, batch), g_weighted, rtol=0, atol=tol)


# --- homogeneity and symmetry ---------------------------------------------------------------------


@settings(max_examples=20)
@given(small_networks, st.floats(min_value=-1.0, max_value=1.0).map(lambda e: 10.0**e))
def test_normalized_margin_is_invariant_under_scaling(net: PolyNet, alpha: float) -> None:
    """h(alpha theta) = alpha^(k+1) h(theta), so h / ||theta||^(k+1) does not change (Def 3.4)."""
    before = margin_report(net)
    after = margin_report(net.scaled(alpha))
    tol = naive_report(net)["margin_tol"]
    note(f"alpha={alpha}, h={before.margin}, h(alpha theta)={after.margin}")
    assert (
        abs(after.margin - alpha ** (net.k + 1) * before.margin) <= 2 * alpha ** (net.k + 1) * tol
    )
    norm_power = net.norm() ** (net.k + 1)
    assert abs(after.normalized_margin - before.normalized_margin) <= 2 * tol / norm_power


@settings(max_examples=15)
@given(small_networks, seeds)
def test_normalized_margin_is_invariant_under_permuting_neurons(net: PolyNet, seed: int) -> None:
    perm = np.random.default_rng(seed).permutation(net.m)
    tol = naive_report(net)["margin_tol"] / net.norm() ** (net.k + 1)
    assert abs(normalized_margin(net.select(perm)) - normalized_margin(net)) <= tol


def test_zero_network_has_no_normalized_margin() -> None:
    zero = PolyNet(np.zeros((3, 2, 5)), np.zeros((3, 5)))
    for f in (normalized_margin, margin_report, check_certificate):
        with pytest.raises(FourierCircuitsError, match="zero"):
            f(zero)


# --- Condition 3.8 and the certificate (Def 3.5) ------------------------------------------------


@settings(max_examples=10)
@given(problems(max_examples=3000), st.sampled_from(["paper", "grid3", "lattice"]))
@example((5, 2), "paper")
def test_construction_satisfies_condition_3_8_and_the_certificate(
    pk: tuple[int, int], design: str
) -> None:
    net = construct(*pk, design)
    assert 0 <= condition_3_8(net, all_inputs(net.task)) <= TIE_RTOL
    cert = check_certificate(net)
    note(f"{cert}")
    assert cert.holds
    assert cert.mean_class_weighted == pytest.approx(gamma_star(*pk), rel=MARGIN_RTOL)


@settings(max_examples=15)
@given(gaussian_networks(problems(max_examples=1000, min_p=5), min_width=2, max_width=32))
def test_random_networks_fail_the_certificate(net: PolyNet) -> None:
    """Negative control: a random network has spread-out margins and untied wrong labels."""
    report = margin_report(net)
    cert = check_certificate(net, report=report)
    note(f"{report}\n{cert}")
    assert not cert.holds
    assert not cert.on_margin
    assert not cert.wrong_labels_tied
    assert condition_3_8(net, all_inputs(net.task)) > TIE_RTOL


@pytest.mark.parametrize(("p", "k"), [(7, 2), (5, 3)])
def test_dropping_a_frequency_fails_condition_3_8(p: int, k: int) -> None:
    """Negative control: with frequency 1 missing every example still sits on the margin and
    each neuron still maximises the class-weighted objective, but the wrong labels are no longer
    tied, so the certificate must fail on that count."""
    net = construct(p, k, frequencies=range(2, (p - 1) // 2 + 1))
    cert = check_certificate(net)
    assert cert.on_margin, cert
    assert cert.class_weighted_reaches_max
    assert not cert.wrong_labels_tied
    assert not cert.holds
    # untied by O(1) of the largest logit (cos of distinct angles), not by round-off
    assert condition_3_8(net, all_inputs(net.task)) > 1e3 * TIE_RTOL


def test_condition_3_8_needs_a_support() -> None:
    with pytest.raises(FourierCircuitsError, match="at least one input"):
        condition_3_8(construct(5, 2), np.zeros((0, 2), dtype=int))


def test_report_ratios_are_consistent() -> None:
    report = margin_report(construct(7, 3, "lattice"))
    assert report.gamma_star == gamma_star(7, 3)
    assert report.margin_ratio == report.normalized_margin / report.gamma_star
    # |h - g*| / g* and h / g* - 1 are two roundings of one number: a few eps apart
    assert report.relative_error == pytest.approx(abs(report.margin_ratio - 1), abs=4e-16)
    assert report.all_correct and report.n_correct == Task(7, 3).n_examples


@settings(max_examples=10)
@given(small_networks, st.sampled_from([1, 2, 3]), st.integers(1, 200) | st.none())
def test_margin_report_does_not_depend_on_chunking(
    net: PolyNet, workers: int, rows: int | None
) -> None:
    base = margin_report(net, workers=1, chunk_rows=net.p)
    other = margin_report(net, workers=workers, chunk_rows=rows)
    tol = naive_report(net)["margin_tol"]
    assert abs(other.margin - base.margin) <= tol
    assert abs(other.margin_spread - base.margin_spread) <= 2 * tol
    assert other.n_examples == base.n_examples


@settings(max_examples=25, deadline=None)
@given(net=small_networks, seed=seeds, chunk_rows=st.integers(1, 64))
def test_margin_report_by_part_matches_each_part_measured_alone(
    net: PolyNet, seed: int, chunk_rows: int
) -> None:
    """One pass over D_p gives, per part of a random split, the margin, accuracy and Condition 3.8
    of the naive one-hot evaluation of that part's rows alone, and the same MarginReport."""
    a = lexicographic_inputs(net.p, net.k)
    order = np.random.default_rng(seed).permutation(len(a))
    cut = len(a) // 2
    train, test = a[order[:cut]], a[order[cut:]]
    where = part_index(net.p, net.k, (train, test))
    assert where is not None
    whole, parts = margin_report_by_part(net, where, chunk_rows=chunk_rows)
    assert whole == margin_report(net, chunk_rows=chunk_rows)
    for rows, part in zip((train, test), parts, strict=True):
        assert part.n_examples == len(rows)
        if not len(rows):
            assert part.margin == np.inf
            continue
        logits = naive_logits(net, rows)
        g, _ = naive_margins(logits, labels(rows, net.p))
        tol = 4 * float(logit_roundoff(net, rows).max()) + 1e-300
        assert abs(part.margin - g.min()) <= tol
        # in counts, not shares: |a/n - b/n| <= c/n can fail by a rounding at equality (found
        # by CI: 69 against 68 correct of 313 with one |g| <= tol)
        assert abs(part.n_correct - np.count_nonzero(g > tol)) <= np.count_nonzero(np.abs(g) <= tol)
        assert part.accuracy == part.n_correct / len(rows)
        expected = condition_3_8(net, rows)
        assert abs(part.condition_3_8 - expected) <= 1e-9 * max(1.0, abs(expected))


def test_part_index_refuses_repeated_inputs_and_margin_report_by_part_a_foreign_index() -> None:
    """Negative controls: an input in two parts or twice in one gives None (the caller measures
    row by row); an index of the wrong length or dtype is refused with its shape."""
    a = np.array([[0, 1], [1, 2], [2, 0]])
    assert part_index(3, 2, (a, a[:1])) is None
    assert part_index(3, 2, (np.vstack([a, a[:1]]),)) is None
    where = part_index(3, 2, (a, np.array([[0, 0]])))
    assert where is not None and where.tolist() == [1, 0, -1, -1, -1, 0, 0, -1, -1]
    net = construct(3, 2)  # D_3 for k = 2: 9 examples
    with pytest.raises(FourierCircuitsError, match=r"int8 of shape \(9,\)"):
        margin_report_by_part(net, where[:5])
    with pytest.raises(FourierCircuitsError, match="int8"):
        margin_report_by_part(net, where.astype(np.int64))
