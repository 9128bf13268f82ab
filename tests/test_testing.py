"""fourier_circuits.testing: each strategy draws what it promises, refuses bad arguments when it is
built (InvalidArgument), shrinks to small examples, and is strong enough that hypothesis falsifies
false laws with it (STYLE.md: a check that cannot fail proves nothing)."""

from __future__ import annotations

import ast
import json
import math
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sympy
from hypothesis import assume, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from fourier_circuits.constructions import DESIGNS, comb_size, construct, get_design, prove_design
from fourier_circuits.testing import (
    BrokenDesign,
    broken_designs,
    designs,
    inputs,
    max_margin_networks,
    moduli,
    networks,
    problems,
)
from fourier_circuits.theory import (
    PolyNet,
    check_certificate,
    fourier_summary,
    gamma_star,
    lattice_width,
    margin_report,
    normalized_margin,
    width_bound,
)
from fourier_circuits.theory.tolerances import MARGIN_RTOL

ROOT = Path(__file__).resolve().parent.parent
#: find() without the example database, so each search starts from scratch (and shrinks fully).
FIND = settings(database=None, max_examples=1000)
#: (p, k) for the max-margin checks: prime, composite (9, 15) and the tiny p = 3; p^k <= 729.
MAX_MARGIN_TASKS = [(3, 2), (5, 2), (7, 2), (9, 2), (15, 2), (3, 3), (7, 3), (9, 3), (5, 4)]


def _odd_ok(p: int, *, min_p: int, max_p: float, prime: bool | None) -> bool:
    """The rule of moduli/problems, restated by brute force."""
    return (
        p % 2 == 1 and max(min_p, 3) <= p <= max_p and (prime is None or sympy.isprime(p) == prime)
    )


# --- problems and moduli -----------------------------------------------------------------------
@settings(max_examples=150)
@given(
    max_examples=st.sampled_from([9, 26, 80, 81, 500, 5000, 10**6]),
    min_k=st.integers(2, 4),
    extra_k=st.integers(0, 3),
    min_p=st.sampled_from([3, 4, 5, 9, 11]),
    max_p=st.none() | st.sampled_from([9, 13, 101]),
    prime=st.sampled_from([None, True, False]),
    data=st.data(),
)
def test_problems_draw_what_they_promise(
    max_examples: int,
    min_k: int,
    extra_k: int,
    min_p: int,
    max_p: int | None,
    prime: bool | None,
    data: st.DataObject,
) -> None:
    max_k = min_k + extra_k
    top = math.inf if max_p is None else max_p
    exists = any(
        _odd_ok(p, min_p=min_p, max_p=top, prime=prime) and p**k <= max_examples
        for k in range(min_k, max_k + 1)
        for p in range(3, math.isqrt(max_examples) + 1)
    )
    if max_p is not None and max_p < min_p:
        exists = False
    try:
        strategy = problems(
            max_examples=max_examples,
            min_k=min_k,
            max_k=max_k,
            min_p=min_p,
            max_p=max_p,
            prime=prime,
        )
    except InvalidArgument:
        assert not exists
        return
    assert exists
    p, k = data.draw(strategy)
    assert min_k <= k <= max_k
    assert p**k <= max_examples
    assert _odd_ok(p, min_p=min_p, max_p=top, prime=prime)


def test_problems_shrink_to_small_p_and_k_and_draw_the_largest_k() -> None:
    assert find(problems(), lambda pk: True, settings=FIND) == (3, 2)
    assert find(problems(prime=False), lambda pk: True, settings=FIND) == (9, 2)
    # k is drawn first, so k = 4 (only p <= 7 fit 5000) is found, at its smallest p
    assert find(problems(max_k=4), lambda pk: pk[1] == 4, settings=FIND) == (3, 4)
    assert find(problems(), lambda pk: pk[0] > 10, settings=FIND) == (11, 2)
    assert find(problems(max_examples=5000), lambda pk: pk[0] == 69, settings=FIND) == (69, 2)


@settings(max_examples=50)
@given(
    min_p=st.integers(3, 40),
    width=st.integers(0, 60),
    prime=st.sampled_from([None, True, False]),
    data=st.data(),
)
def test_moduli_draw_what_they_promise(
    min_p: int, width: int, prime: bool | None, data: st.DataObject
) -> None:
    max_p = min_p + width
    if not any(_odd_ok(p, min_p=min_p, max_p=max_p, prime=prime) for p in range(3, max_p + 1)):
        with pytest.raises(InvalidArgument, match="no odd"):
            moduli(min_p=min_p, max_p=max_p, prime=prime)
        return
    p = data.draw(moduli(min_p=min_p, max_p=max_p, prime=prime))
    assert _odd_ok(p, min_p=min_p, max_p=max_p, prime=prime)


@settings(max_examples=30)
@given(moduli(min_p=10**5, max_p=10**6, prime=True), moduli(max_p=10**6, prime=False))
def test_moduli_of_long_ranges_keep_the_prime_filter(prime: int, composite: int) -> None:
    """Ranges too long to list map a drawn odd number to the nearest match."""
    assert prime % 2 == 1 and 10**5 <= prime <= 10**6 and sympy.isprime(prime)
    assert composite % 2 == 1 and composite <= 10**6 and not sympy.isprime(composite)


# --- inputs ----------------------------------------------------------------------------------
@settings(max_examples=50)
@given(
    pk=problems(max_examples=2000),
    rows=st.tuples(st.integers(0, 5), st.integers(0, 30)),
    data=st.data(),
)
def test_inputs_are_batches_of_Z_p_to_the_k(
    pk: tuple[int, int], rows: tuple[int, int], data: st.DataObject
) -> None:
    p, k = pk
    lo, hi = rows[0], rows[0] + rows[1]
    a = data.draw(inputs(p, k, min_rows=lo, max_rows=hi))
    assert a.dtype == np.int64 and a.ndim == 2 and a.shape[1] == k
    assert lo <= a.shape[0] <= hi
    assert a.size == 0 or (a.min() >= 0 and a.max() < p)


def test_inputs_shrink_to_zeros() -> None:
    assert find(inputs(7, 3), lambda a: True, settings=FIND).tolist() == [[0, 0, 0]]
    assert find(inputs(7, 3), lambda a: a.max() == 6, settings=FIND).tolist() == [[0, 0, 6]]


# --- networks --------------------------------------------------------------------------------
@settings(max_examples=60)
@given(pk=problems(max_examples=500), data=st.data())
def test_networks_are_finite_nonzero_polynets(pk: tuple[int, int], data: st.DataObject) -> None:
    p, k = pk
    net = data.draw(networks(p, k))
    assert isinstance(net, PolyNet) and (net.p, net.k) == (p, k) and 1 <= net.m <= 8
    assert net.U.dtype == net.W.dtype == np.float64
    for x in (net.U, net.W):
        assert np.all(np.isfinite(x)) and np.abs(x).max() <= 2.0
    report = margin_report(net)  # accepted: a non-zero network has a normalized margin
    assert report.normalized_margin <= gamma_star(p, k) * (1 + MARGIN_RTOL)  # Theorem 4.1 (i)


@settings(max_examples=30)
@given(
    width=st.integers(1, 6),
    bounds=st.tuples(st.integers(1, 4), st.integers(0, 4)),
    data=st.data(),
)
def test_networks_have_the_width_asked_for(
    width: int, bounds: tuple[int, int], data: st.DataObject
) -> None:
    assert data.draw(networks(5, 2, width=width)).m == width
    lo, hi = bounds[0], bounds[0] + bounds[1]
    assert lo <= data.draw(networks(3, 3, min_width=lo, max_width=hi)).m <= hi
    halves = st.integers(-2, 2).map(lambda n: n / 2)
    net = data.draw(networks(3, 2, width=width, elements=halves))
    assert set(np.r_[net.U.ravel(), net.W.ravel()]) <= {-1.0, -0.5, 0.0, 0.5, 1.0}


def test_networks_shrink_to_one_small_neuron() -> None:
    net = find(networks(7, 3), lambda net: True, settings=FIND)
    assert net.m == 1 and net.norm() > 0
    entries = np.r_[net.U.ravel(), net.W.ravel()]
    assert np.all(entries == np.round(entries))  # small integers, readable


# --- designs and negative controls -------------------------------------------------------------
@settings(max_examples=20)
@given(st.integers(2, 4).flatmap(designs))
def test_designs_are_registered_and_proved(design: Any) -> None:
    assert design == get_design(design.name, design.k)
    assert prove_design(design).holds


@pytest.mark.parametrize("k", [2, 3, 4])
def test_designs_shrink_to_the_smallest_and_draw_every_one(k: int) -> None:
    smallest = find(designs(k), lambda d: True, settings=FIND)
    assert smallest.size == min(get_design(name, k).size for name in DESIGNS)
    for name in DESIGNS:
        assert find(designs(k), lambda d, name=name: d.name == name, settings=FIND).name == name


@settings(max_examples=60)
@given(st.integers(2, 4).flatmap(broken_designs))
def test_broken_designs_are_refuted_by_prove_design(broken: BrokenDesign) -> None:
    proof = broken.proof()
    assert not proof.holds, broken.defect
    assert proof == prove_design(broken.design, phase_w_offset=broken.phase_w_offset)


@pytest.mark.parametrize("defect", ["removed", "duplicated", "moved", "phi_w"])
def test_broken_designs_draw_every_defect(defect: str) -> None:
    broken = find(broken_designs(3), lambda b: defect in b.defect, settings=FIND)
    assert not broken.proof().holds


@settings(max_examples=15)
@given(st.sampled_from([2, 3]).flatmap(broken_designs))
def test_broken_designs_lose_the_margin(broken: BrokenDesign) -> None:
    """At p = 7 no two terms of the expansion alias (p > 2k - 1, min_width.frequency_collisions),
    so a design that fails the character conditions cannot reach gamma*."""
    assume(not any(broken.phase_w_offset))  # construct has the phase-sum rule built in
    report = margin_report(construct(7, broken.design.k, broken.design))
    assert report.normalized_margin < gamma_star(7, broken.design.k) * (1 - 1e-6)


# --- max-margin networks ---------------------------------------------------------------------
@pytest.mark.parametrize(("p", "k"), MAX_MARGIN_TASKS)
def test_max_margin_networks_attain_gamma_star(p: int, k: int) -> None:
    """Theorem 4.1 (i)-(iii) of arXiv 2402.09469 on every drawn network."""

    @given(max_margin_networks(p, k))
    @settings(max_examples=8)
    def check(net: PolyNet) -> None:
        report = margin_report(net)
        assert (net.p, net.k) == (p, k)
        assert report.relative_error <= MARGIN_RTOL, net.meta
        assert report.all_correct and report.all_on_margin and report.wrong_labels_tied
        assert check_certificate(net, report=report).holds
        summary = fourier_summary(net)
        assert summary.all_single_frequency and summary.covers_every_frequency
        assert summary.phase_sums_vanish and summary.min_amplitude_balance > 1 - 1e-9
        json.dumps(net.meta)  # the record of the draws is JSON (the .npz format of DESIGN.md)

    check()


SYMMETRIES: dict[str, Callable[[PolyNet], bool]] = {
    "designs differ across frequencies": lambda n: len({tuple(d) for d in n.meta["designs"]}) > 1,
    "two designs mixed at one frequency": lambda n: any(len(d) == 2 for d in n.meta["designs"]),
    "a phase shift": lambda n: any(any(t) for part in n.meta["phase_shifts"] for t in part),
    "a unit map": lambda n: n.meta["unit"] != 1,
    "an input shift": lambda n: sum(n.meta["input_shift"]) % n.p != 0,
    "an input permutation": lambda n: n.meta["input_order"] != sorted(n.meta["input_order"]),
    "sign flips": lambda n: n.meta["sign_flips"] > 0,
    "a neuron shuffle": lambda n: n.meta["neuron_shuffle_seed"] is not None,
    "a scale": lambda n: n.meta["scale"] != 1.0,
    "unequal neuron norms": lambda n: np.ptp(n.neuron_norms()) > 1e-6 * n.neuron_norms().max(),
}


@pytest.mark.parametrize("symmetry", sorted(SYMMETRIES))
def test_max_margin_networks_draw_every_symmetry(symmetry: str) -> None:
    """Each symmetry of the maximum margin is drawn (and the draw still attains gamma*)."""
    net = find(max_margin_networks(7, 2), SYMMETRIES[symmetry], settings=FIND)
    assert margin_report(net).relative_error <= MARGIN_RTOL


def test_unequal_weights_per_frequency_lose_the_margin() -> None:
    """Why max_margin_networks keeps the total weight of every frequency equal: weights 1, 2, 1
    on the three frequencies of p = 7 untie the wrong labels (a negative control)."""
    p, k = 7, 2
    parts = [construct(p, k, "lattice", frequencies=[z]) for z in (1, 2, 3)]
    for weights in [(1, 2, 1), (2, 1, 1)]:
        scaled = [net.scaled(w ** (1 / (k + 1))) for net, w in zip(parts, weights, strict=True)]
        net = PolyNet(np.concatenate([n.U for n in scaled]), np.concatenate([n.W for n in scaled]))
        assert margin_report(net).margin_ratio < 0.9


# --- false laws: hypothesis must falsify them ------------------------------------------------
def test_false_law_every_network_has_positive_margin_is_falsified() -> None:
    law_fails = find(networks(5, 2), lambda net: normalized_margin(net) <= 0, settings=FIND)
    assert law_fails.m == 1  # shrunk to a single neuron
    entries = np.r_[law_fails.U.ravel(), law_fails.W.ravel()]
    assert np.all(entries == np.round(entries)) and np.abs(entries).max() <= 1


def test_false_law_max_margin_needs_the_paper_width_is_falsified() -> None:
    """Theorem 4.1 assumes m >= 2^(2k-2) (p-1); it does not say a max-margin network needs it.
    The comb design reaches gamma* with (k+1) 2^(k-1) (p-1)/2 neurons, the lattice with
    3^(k-1) (p-1)."""
    p, k = 5, 3

    @given(max_margin_networks(p, k))
    @settings(max_examples=100, database=None)
    def law(net: PolyNet) -> None:
        assert net.m >= width_bound(p, k)

    with pytest.raises(AssertionError):
        law()
    smallest = find(max_margin_networks(p, k), lambda n: n.m < width_bound(p, k), settings=FIND)
    assert smallest.m == comb_size(k) * (p - 1) // 2 == 32 < lattice_width(p, k) == 36
    assert smallest.meta["designs"] == [["comb"], ["comb"]] and smallest.meta["unit"] == 1
    assert margin_report(smallest).relative_error <= MARGIN_RTOL


# --- arguments are checked when the strategy is built ------------------------------------------
BAD: list[tuple[Callable[[], object], str]] = [
    (lambda: problems(max_k=1), r"max_k=1 must be an integer >= 2"),
    (lambda: problems(min_k=4, max_k=3), r"min_k=4 must be <= max_k=3"),
    (lambda: problems(max_examples=8), r"no \(p, k\) .* p\^k <= max_examples=8"),
    (lambda: problems(max_examples=2.5), r"max_examples=2.5 must be an integer"),
    (lambda: problems(prime="yes"), r"prime='yes' must be True, False or None"),
    (lambda: problems(min_p=9, max_p=7), r"max_p=7 must be an integer >= 9"),
    (lambda: problems(prime=False, max_examples=80), r"no \(p, k\) with p odd composite"),
    (lambda: moduli(min_p=2), r"min_p=2 must be an integer >= 3"),
    (lambda: moduli(max_p=7, prime=False), r"no odd composite p in \[min_p, max_p\] = \[3, 7\]"),
    (lambda: networks(4, 2), r"p=4 must be an odd integer >= 3"),
    (lambda: networks(5, 1), r"k=1 must be an integer >= 2"),
    (lambda: networks(3, 40), r"p\^k = 3\^40 = .* must be at most 2\^33"),
    (lambda: networks(5, 2, width=0), r"width=0 must be an integer >= 1"),
    (lambda: networks(5, 2, width=-3), r"width=-3 must be an integer >= 1"),
    (lambda: networks(5, 2, width=2.0), r"width=2.0 must be an integer >= 1"),
    (lambda: networks(5, 2, width=True), r"width=True must be an integer >= 1"),
    (lambda: networks(5, 2, width=2, max_width=3), r"width=2 fixes m; do not also pass"),
    (lambda: networks(5, 2, min_width=3, max_width=2), r"max_width=2 must be an integer >= 3"),
    (lambda: networks(5, 2, min_width=0), r"min_width=0 must be an integer >= 1"),
    (lambda: networks(5, 2, elements=[1.0]), r"elements=\[1.0\] must be a hypothesis"),
    (lambda: inputs(6, 2), r"p=6 must be an odd integer >= 3"),
    (lambda: inputs(5, 2, min_rows=3, max_rows=2), r"max_rows=2 must be an integer >= 3"),
    (lambda: designs(1), r"k=1 must be an integer >= 2"),
    (lambda: broken_designs(0), r"k=0 must be an integer >= 2"),
    (lambda: max_margin_networks(4, 2), r"p=4 must be an odd integer >= 3"),
    (lambda: max_margin_networks(5, "2"), r"k='2' must be an integer"),
    (lambda: max_margin_networks(3, 40), r"p\^k = 3\^40"),
]


@pytest.mark.parametrize(("build", "match"), BAD, ids=[m for _, m in BAD])
def test_bad_arguments_are_refused_when_the_strategy_is_built(
    build: Callable[[], object], match: str
) -> None:
    with pytest.raises(InvalidArgument, match=match):
        build()  # building only: nothing is drawn


# --- the module itself -----------------------------------------------------------------------
def test_testing_needs_hypothesis_and_says_how_to_install_it() -> None:
    code = "import sys; sys.modules['hypothesis'] = None; import fourier_circuits.testing"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode != 0
    assert "ImportError" in done.stderr
    assert "pip install 'fourier-circuits[hypothesis]'" in done.stderr


def test_testing_loads_neither_torch_nor_cvxpy() -> None:
    source = (ROOT / "fourier_circuits" / "testing.py").read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & {"torch", "cvxpy"}
    code = (
        "import sys, fourier_circuits.testing; "
        "print(sorted({m.split('.')[0] for m in sys.modules}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    loaded = set(ast.literal_eval(done.stdout.strip()))
    assert "hypothesis" in loaded and not loaded & {"torch", "cvxpy"}
