"""The task (theory.task): validation of p and k, D_p in lexicographic order with its labels,
lazy chunking, and the refusal of a D_p too large to enumerate (Section 3 of arXiv 2402.09469)."""

from __future__ import annotations

import itertools
import tracemalloc

import numpy as np
import pytest
import sympy as sp
from hypothesis import example, given, note, settings
from hypothesis import strategies as st
from naive import lexicographic_inputs

from fourier_circuits.testing import problems
from fourier_circuits.theory import (
    FourierCircuitsError,
    Task,
    all_inputs,
    inputs_at,
    is_prime,
    iter_chunks,
    labels,
    validate_k,
    validate_p,
)
from fourier_circuits.theory.task import MAX_EXAMPLES, default_chunk_rows, require_enumerable

# --- validation ---------------------------------------------------------------------------------


@given(st.integers(min_value=1, max_value=10**6).map(lambda n: 2 * n + 1))
def test_validate_p_accepts_every_odd_integer_from_3(p: int) -> None:
    assert validate_p(p) == p
    assert validate_p(np.int64(p)) == p
    assert type(validate_p(np.int32(p))) is int


@given(st.integers(min_value=-(10**6), max_value=10**6).filter(lambda n: n < 3 or n % 2 == 0))
@example(4)
@example(2)
@example(1)
@example(0)
@example(-3)
def test_validate_p_refuses_even_or_small_p_naming_the_rule(p: int) -> None:
    with pytest.raises(FourierCircuitsError, match=rf"p={p} must be an odd integer >= 3"):
        validate_p(p)


@pytest.mark.parametrize("bad", [5.5, "5", None, True, [5], complex(5, 0)])
def test_validate_p_refuses_non_integers(bad: object) -> None:
    with pytest.raises(FourierCircuitsError, match=r"p=.* must be an integer"):
        validate_p(bad)


def test_validate_p_accepts_an_integral_float() -> None:
    assert validate_p(7.0) == 7


@given(st.integers(min_value=2, max_value=10**6))
def test_validate_k_accepts_every_integer_from_2(k: int) -> None:
    assert validate_k(k) == k


@given(st.integers(max_value=1))
@example(1)
@example(0)
def test_validate_k_refuses_k_below_2_naming_the_rule(k: int) -> None:
    with pytest.raises(FourierCircuitsError, match=rf"k={k} must be an integer >= 2"):
        validate_k(k)


@pytest.mark.parametrize("bad", [2.5, "3", None, False])
def test_validate_k_refuses_non_integers(bad: object) -> None:
    with pytest.raises(FourierCircuitsError, match=r"k=.* must be an integer"):
        validate_k(bad)


def test_task_validates_on_construction() -> None:
    with pytest.raises(FourierCircuitsError, match="p=4"):
        Task(4, 2)
    with pytest.raises(FourierCircuitsError, match="k=1"):
        Task(5, 1)


@given(st.integers(min_value=-10, max_value=5000))
def test_is_prime_agrees_with_sympy(n: int) -> None:
    assert is_prime(n) == bool(sp.isprime(n))


@given(problems(max_examples=10**9, max_k=8))
def test_task_sizes_and_frequencies(pk: tuple[int, int]) -> None:
    p, k = pk
    task = Task(p, k)
    assert task.n_examples == p**k
    assert task.prime == bool(sp.isprime(p))
    # Theorem 4.1 (ii)-(iii): zeta in {1, ..., (p-1)/2}
    assert task.frequencies.tolist() == list(range(1, (p - 1) // 2 + 1))


# --- D_p and its labels -------------------------------------------------------------------------


@given(problems(max_examples=3000))
@example((9, 3))
@example((15, 2))
def test_all_inputs_is_d_p_in_lexicographic_order_with_correct_labels(pk: tuple[int, int]) -> None:
    p, k = pk
    task = Task(p, k)
    a = all_inputs(task)
    assert a.dtype == np.int64
    np.testing.assert_array_equal(a, lexicographic_inputs(p, k))
    expected = [sum(t) % p for t in itertools.product(range(p), repeat=k)]
    assert labels(a, p).tolist() == expected


@given(problems(max_examples=3000), st.data())
def test_inputs_at_is_a_slice_of_d_p(pk: tuple[int, int], data: st.DataObject) -> None:
    p, k = pk
    task = Task(p, k)
    start = data.draw(st.integers(0, task.n_examples), label="start")
    stop = data.draw(st.integers(start, task.n_examples), label="stop")
    np.testing.assert_array_equal(inputs_at(task, start, stop), all_inputs(task)[start:stop])


@pytest.mark.parametrize(("start", "stop"), [(-1, 3), (3, 2), (0, 126), (126, 127)])
def test_inputs_at_refuses_a_range_outside_d_p(start: int, stop: int) -> None:
    with pytest.raises(FourierCircuitsError, match=r"range .* must lie within \[0, 125\)"):
        inputs_at(Task(5, 3), start, stop)


# --- chunking -----------------------------------------------------------------------------------


@given(problems(max_examples=3000), st.integers(min_value=1, max_value=4000) | st.none())
def test_iter_chunks_covers_d_p_in_order(pk: tuple[int, int], rows: int | None) -> None:
    p, k = pk
    task = Task(p, k)
    chunks = list(iter_chunks(task, chunk_rows=rows))
    note(f"{len(chunks)} chunks")
    starts = [start for start, _ in chunks]
    sizes = [len(block) for _, block in chunks]
    assert starts == list(itertools.accumulate([0, *sizes[:-1]]))
    limit = default_chunk_rows(task, p) if rows is None else rows
    assert all(0 < size <= limit for size in sizes)
    np.testing.assert_array_equal(np.concatenate([b for _, b in chunks]), all_inputs(task))


@given(problems(max_examples=10**7, max_k=6), st.integers(min_value=1, max_value=10**6))
def test_default_chunk_rows_is_whole_prefixes(pk: tuple[int, int], width: int) -> None:
    task = Task(*pk)
    rows = default_chunk_rows(task, width)
    assert rows >= task.p
    assert rows % task.p == 0


def test_iter_chunks_is_lazy() -> None:
    # |D_p| = 2001^3 = 8.0e9 inputs (64 GB as int64 pairs): only laziness makes this possible.
    task = Task(2001, 3)
    assert task.n_examples <= MAX_EXAMPLES
    tracemalloc.start()
    try:
        chunks = iter_chunks(task, chunk_rows=4002)
        (s0, first), (s1, second) = next(chunks), next(chunks)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (s0, s1) == (0, 4002)
    np.testing.assert_array_equal(first[:3], [[0, 0, 0], [0, 0, 1], [0, 0, 2]])
    np.testing.assert_array_equal(second[0], [0, 2, 0])
    assert peak < 2**20  # two chunks of 4002 x 3 int64 (96 kB each) and their index arrays


def test_iter_chunks_refuses_too_large_d_p_on_the_call_with_an_estimate() -> None:
    task = Task(101, 6)  # 1.06e12 inputs
    with pytest.raises(FourierCircuitsError, match=r"p\^k = 1\.062e\+12 inputs.*hours"):
        iter_chunks(task)  # not just when the first chunk is requested


def test_require_enumerable_estimate_scales_with_the_work_per_example() -> None:
    task = Task(101, 6)
    messages = []
    for work in (1.0, 1e6):
        with pytest.raises(FourierCircuitsError) as info:
            require_enumerable(task, work_per_example=work)
        messages.append(str(info.value))
    hours = [float(msg.split("about ")[1].split(" hours")[0]) for msg in messages]

    assert hours[1] == pytest.approx(1e6 * hours[0], rel=1e-2)  # printed to 3 significant digits


def test_require_enumerable_accepts_the_limit() -> None:
    require_enumerable(Task(2001, 3))  # 8.0e9 <= 2^33


@pytest.mark.parametrize("rows", [0, -5, 2.5, "10"])
def test_iter_chunks_refuses_bad_chunk_rows_on_the_call(rows: object) -> None:
    with pytest.raises(FourierCircuitsError, match="chunk_rows"):
        iter_chunks(Task(5, 2), chunk_rows=rows)  # type: ignore[arg-type]


def test_all_inputs_refuses_an_array_that_does_not_fit() -> None:
    with pytest.raises(FourierCircuitsError, match=r"all inputs of D_p would need \d+\.\d GiB"):
        all_inputs(Task(2001, 3))


@settings(max_examples=20)
@given(problems(max_examples=3000), st.integers(min_value=-50, max_value=50))
def test_labels_are_the_sum_mod_p(pk: tuple[int, int], shift: int) -> None:
    p, k = pk
    a = all_inputs(Task(p, k))
    y = labels(a, p)
    assert ((y >= 0) & (y < p)).all()
    # shifting one summand by s shifts the label by s (mod p)
    b = a.copy()
    b[:, 0] = (b[:, 0] + shift) % p
    np.testing.assert_array_equal(labels(b, p), (y + shift) % p)
