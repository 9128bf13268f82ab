"""The cyclotomic toolkit (theory.cyclotomic) against sympy's polynomial arithmetic, an independent
route: products and shifts in Z[x]/(x^L - 1), conjugation, and reduction modulo Phi_L, with
negative controls (a non-zero element must not vanish, a wrong product must differ)."""

from __future__ import annotations

import numpy as np
import sympy as sp
from hypothesis import given, note
from hypothesis import strategies as st

from fourier_circuits.theory.cyclotomic import (
    conjugate,
    cyclic_product,
    cyclotomic_polynomial,
    exponent_histogram,
    multiply_by_monomials,
    real_value,
    reduction_matrix,
    vanishes,
)

x = sp.Symbol("x")


def as_poly(a: np.ndarray) -> sp.Poly:
    return sp.Poly(sum(int(c) * x**r for r, c in enumerate(a)), x, domain="ZZ")


def ring_vector(poly: sp.Poly, L: int) -> list[int]:
    """The coefficients of poly reduced modulo x^L - 1."""
    out = [0] * L
    for (e,), c in poly.terms():
        out[e % L] += int(c)
    return out


elements = st.integers(1, 24).flatmap(
    lambda L: st.tuples(
        st.just(L),
        st.lists(st.integers(-50, 50), min_size=L, max_size=L),
        st.lists(st.integers(-50, 50), min_size=L, max_size=L),
    )
)


@given(elements)
def test_cyclic_product_is_polynomial_multiplication_mod_x_to_the_L_minus_1(
    case: tuple[int, list[int], list[int]],
) -> None:
    L, a, b = case
    got = cyclic_product(np.array(a), np.array(b))
    want = ring_vector(as_poly(np.array(a)) * as_poly(np.array(b)), L)
    assert got.tolist() == want
    # Python integers (object arrays) give the same product
    assert cyclic_product(np.array(a, dtype=object), np.array(b, dtype=object)).tolist() == want


@given(elements, st.integers(-100, 100))
def test_a_monomial_shift_is_a_product_with_x_to_the_s(
    case: tuple[int, list[int], list[int]], s: int
) -> None:
    L, a, _ = case
    monomial = np.zeros(L, dtype=np.int64)
    monomial[s % L] = 1
    P = np.array([a], dtype=np.int64)
    shifted = multiply_by_monomials(P, np.array([s]))
    np.testing.assert_array_equal(shifted[0], cyclic_product(np.array(a), monomial))


@given(st.integers(1, 60), st.lists(st.integers(-(10**6), 10**6), min_size=1, max_size=8))
def test_histogram_counts_exponents_mod_L(L: int, exponents: list[int]) -> None:
    counts = exponent_histogram(1, np.array([exponents]), L)[0]
    assert counts.tolist() == ring_vector(sp.Poly(sum(x ** (e % L) for e in exponents), x), L)


@given(st.integers(1, 40), st.data())
def test_reduction_matrix_is_the_remainder_modulo_phi_L(L: int, data: st.DataObject) -> None:
    a = np.array(data.draw(st.lists(st.integers(-9, 9), min_size=L, max_size=L), label="a"))
    coords = a @ reduction_matrix(L)
    remainder = as_poly(a).rem(cyclotomic_polynomial(L))
    want = [int(c) for c in reversed(remainder.all_coeffs())] if not remainder.is_zero else []
    want += [0] * (coords.size - len(want))
    assert coords.tolist() == want
    assert vanishes(L, tuple(a.tolist())) == (not coords.any())


@given(st.integers(2, 40), st.integers(0, 39))
def test_a_single_root_of_unity_never_vanishes(L: int, r: int) -> None:
    """Negative control: omega_L^r != 0, and 1 + omega + ... + omega^(L-1) = 0 for L >= 2."""
    counts = [0] * L
    counts[r % L] = 1
    assert not vanishes(L, tuple(counts))
    assert vanishes(L, (1,) * L)


@given(st.integers(3, 30), st.data())
def test_conjugation_and_real_value_agree_with_complex_numbers(L: int, data: st.DataObject) -> None:
    a = np.array(data.draw(st.lists(st.integers(-5, 5), min_size=L, max_size=L), label="a"))
    omega = np.exp(2j * np.pi * np.arange(L) / L)
    value = complex(a @ omega)
    assert np.isclose(complex(conjugate(a) @ omega), value.conjugate(), atol=1e-9)
    real = a + conjugate(a)  # a + conj(a) is real: 2 Re(a)
    exact = real_value((real @ reduction_matrix(L)).tolist(), L)
    note(f"exact {exact}")
    assert abs(float(exact) - 2 * value.real) <= 1e-9 * (1 + abs(value))
