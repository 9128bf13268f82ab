"""The resource estimates (theory.budget) and the primality test they protect (theory.is_prime):
limits follow the machine, sizes are compared in logarithms, and every refusal names the
quantity, the estimate and the limit."""

from __future__ import annotations

import math
import os
import random
import time

import pytest
import sympy as sp
from hypothesis import example, given, settings
from hypothesis import strategies as st

import fourier_circuits.theory.budget as budget
from fourier_circuits.theory import FourierCircuitsError, Task, is_prime
from fourier_circuits.theory.task import MAX_PRIME_BITS, MILLER_RABIN_BOUND, require_enumerable

# --- the machine's limits ----------------------------------------------------------------------


def test_available_memory_is_what_the_machine_reports() -> None:
    available = budget.available_memory()
    assert available > 0
    with open("/proc/meminfo") as fh:  # this project runs on Linux
        line = next(row for row in fh if row.startswith("MemAvailable:"))
    reported = int(line.split()[1]) * 1024
    # another process may allocate in between: the same order of magnitude
    assert 0.5 * reported <= available <= 2 * reported
    assert budget.memory_limit() == pytest.approx(budget.MEMORY_SHARE * available, rel=0.5)


def test_memory_falls_back_to_sysconf_then_to_a_constant(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(budget, "_meminfo_available", lambda: None)
    monkeypatch.setattr(budget, "_cgroup_headroom", lambda: None)
    pages, size = os.sysconf("SC_AVPHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    assert budget.available_memory() == pytest.approx(pages * size, rel=0.5)
    monkeypatch.setattr(budget, "_sysconf_available", lambda: None)
    assert budget.available_memory() == budget.FALLBACK_MEMORY


def test_a_cgroup_limit_lowers_the_available_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(budget, "_meminfo_available", lambda: 10 * 2**30)
    monkeypatch.setattr(budget, "_cgroup_headroom", lambda: 2**30)
    assert budget.available_memory() == 2**30
    monkeypatch.setattr(budget, "_cgroup_headroom", lambda: None)
    assert budget.available_memory() == 10 * 2**30


def test_threads_and_rate_follow_the_cpus() -> None:
    assert budget.max_threads() == budget.THREADS_PER_CPU * (os.cpu_count() or 1)
    assert budget.flop_rate() == budget.FLOP_RATE_PER_CORE * budget.usable_cpus()
    assert budget.hours(budget.flop_rate() * 3600) == pytest.approx(1.0)


# --- sizes -------------------------------------------------------------------------------------


@given(st.lists(st.integers(0, 10**6), max_size=6), st.sampled_from([1, 4, 8, 16]))
def test_array_bytes_is_the_exact_product(shape: list[int], itemsize: int) -> None:
    assert budget.array_bytes(shape, itemsize) == math.prod(shape) * itemsize


@given(st.integers(1, 10**4), st.integers(0, 300), st.integers(1, 2**80))
@example(2, 33, 2**33)
@example(2, 34, 2**33)
@example(1, 10**18, 1)
def test_power_exceeds_agrees_with_the_power(base: int, exponent: int, limit: int) -> None:
    assert budget.power_exceeds(base, exponent, limit) == (base**exponent > limit)


def test_power_exceeds_never_computes_a_huge_power() -> None:
    start = time.perf_counter()
    assert budget.power_exceeds(7, 10**15, 2**33)
    assert not budget.power_exceeds(1, 10**15, 2)
    assert time.perf_counter() - start < 0.1


@pytest.mark.parametrize(
    ("log10_value", "text"),
    [(12.026, "1.06e+12"), (-3.0, "0.001"), (845e9, "10^(8.45e+11)"), (-400.0, "10^(-400)")],
)
def test_magnitude_reads_as_a_number(log10_value: float, text: str) -> None:
    assert budget.magnitude(log10_value) == text


def test_format_bytes_uses_binary_units() -> None:
    assert budget.format_bytes(512) == "512 bytes"
    assert budget.format_bytes(3 * 2**30) == "3.0 GiB"
    assert budget.format_bytes(10**40).endswith("bytes") and "10^" not in budget.format_bytes(1e3)


# --- the refusals ------------------------------------------------------------------------------


def test_require_memory_names_quantity_estimate_and_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(budget, "available_memory", lambda: 2**30)
    budget.require_memory("a small array", 2**20)  # negative control: fits
    with pytest.raises(FourierCircuitsError) as info:
        budget.require_memory("the widget (3, 4)", 2**31, fix="use fewer widgets")
    message = str(info.value)
    assert "the widget (3, 4)" in message and "2.0 GiB" in message
    assert "more than the limit 819.2 MiB" in message and "1.0 GiB available" in message
    assert message.endswith("use fewer widgets")


def test_require_memory_takes_any_size_of_int() -> None:
    with pytest.raises(FourierCircuitsError, match=r"10\^\(4\d\d\) bytes"):
        budget.require_memory("an astronomical array", 10**450)
    with pytest.raises(FourierCircuitsError, match=r"10\^\(1e\+12\) bytes"):
        budget.require_memory_log10("a design", 1e12)


def test_require_time_names_the_hours_and_the_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(budget, "usable_cpus", lambda: 2)
    budget.require_time("a short job", 1e12)  # 50 s: accepted
    with pytest.raises(FourierCircuitsError) as info:
        budget.require_time("a long job", 2e10 * 3600 * 100)
    message = str(info.value)
    assert "a long job would take about 100 hours" in message
    assert "2e+10 flop/s, 2 cores" in message and "more than the limit 24 hours" in message
    for bad in (math.inf, math.nan):
        with pytest.raises(FourierCircuitsError, match="hours"):
            budget.require_time("an unbounded job", bad)


def test_require_steps_counts_python_loops() -> None:
    budget.require_steps("a loop", 1e6)
    with pytest.raises(FourierCircuitsError, match=r"Python-level steps at 1e\+06 a second"):
        budget.require_steps("a long loop", 1e12)


def test_require_digits_follows_pythons_limit() -> None:
    budget.require_digits("a 4000-digit integer", 3999.0)
    with pytest.raises(FourierCircuitsError, match=r"more than 4300 digits"):
        budget.require_digits("a 5000-digit integer", 4999.0)


def test_require_enumerable_decides_in_logarithms() -> None:
    start = time.perf_counter()
    with pytest.raises(FourierCircuitsError, match=r"p\^k = 10\^\(8\.45e\+11\) inputs"):
        require_enumerable(Task(7, 10**12))
    with pytest.raises(FourierCircuitsError, match=r"\|D_p\| = p\^k .* more than 4300 digits"):
        Task(7, 10**12).n_examples  # noqa: B018 (the property is the call under test)
    assert time.perf_counter() - start < 1.0
    require_enumerable(Task(2001, 3))  # negative control: 8.0e9 <= 2^33


# --- primality: deterministic Miller-Rabin -------------------------------------------------------

#: Carmichael numbers: Fermat pseudoprimes to every coprime base, composite.
CARMICHAEL = [561, 1105, 1729, 2465, 2821, 6601, 8911, 41041, 825265, 321197185, 5394826801]
#: Strong pseudoprimes to many prime bases (composite): to 2, 3, 5, 7; to the primes up to 23;
#: to every prime up to 37 (caught only by the 13th base, 41); to every prime up to 41.
STRONG_PSEUDOPRIMES = [
    3215031751,
    3825123056546413051,
    318665857834031151167461,
    3317044064679887385961981,
]
PRIMES = [2, 3, 5, 41, 43, 1_000_003, 2**31 - 1, 2**61 - 1, 2**64 - 59, 2**89 - 1, 2**127 - 1]


@pytest.mark.parametrize("n", CARMICHAEL + STRONG_PSEUDOPRIMES)
def test_composites_that_fool_weaker_tests_are_refuted(n: int) -> None:
    assert not sp.isprime(n)  # the negative control itself
    assert not is_prime(n)


def test_the_strong_pseudoprime_to_the_first_twelve_bases_needs_the_thirteenth() -> None:
    from fourier_circuits.theory.task import _strong_probable_prime

    n = 318665857834031151167461
    assert n < MILLER_RABIN_BOUND
    assert all(_strong_probable_prime(n, a) for a in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37))
    assert not _strong_probable_prime(n, 41)


@pytest.mark.parametrize("n", PRIMES)
def test_primes_are_found_quickly(n: int) -> None:
    start = time.perf_counter()
    assert is_prime(n)
    assert time.perf_counter() - start < 0.5


@settings(max_examples=300)
@given(
    st.integers(-10, 10**6)
    | st.integers(0, 2**64)
    | st.integers(2**64, MILLER_RABIN_BOUND)
    | st.integers(MILLER_RABIN_BOUND, 2**200)
)
def test_is_prime_agrees_with_sympy(n: int) -> None:
    assert is_prime(n) == bool(sp.isprime(n))


def test_is_prime_agrees_with_sympy_on_products_of_primes() -> None:
    rng = random.Random(0)
    for _ in range(200):
        a, b = (int(sp.nextprime(rng.randrange(2, 2**40))) for _ in range(2))
        assert not is_prime(a * b) and is_prime(a) and is_prime(b)
    assert is_prime(2305843009213693951)  # the prime of the measured hang (2^61 - 1)


def test_is_prime_refuses_what_it_cannot_decide_quickly() -> None:
    start = time.perf_counter()
    assert not is_prime(2 ** (MAX_PRIME_BITS + 7) + 1)  # a small factor (3) decides at any size
    with pytest.raises(FourierCircuitsError, match=rf"bits, more than the limit {MAX_PRIME_BITS}"):
        is_prime(43**800)  # 4341 bits, no prime factor <= 41
    for bad in (2.5, "7", None, True):
        with pytest.raises(FourierCircuitsError, match="must be an integer"):
            is_prime(bad)
    assert time.perf_counter() - start < 0.5


def test_a_task_with_a_large_prime_answers_at_once() -> None:
    start = time.perf_counter()
    task = Task(2305843009213693951, 2)
    assert task.prime
    assert time.perf_counter() - start < 0.5
