"""Exact arithmetic with L-th roots of unity: the ring Z[x]/(x^L - 1) and the field Q(omega_L).

An element sum_r a_r x^r of Z[x]/(x^L - 1) is an integer vector a: (..., L) (index r = exponent
mod L). Products are cyclic convolutions, x^s * a is a cyclic shift, and a sum of monomials
x^{e_1} + ... + x^{e_q} is the histogram of its exponents mod L. Evaluating at a primitive root
omega_L = e^{2 pi i / L} is reduction modulo the cyclotomic polynomial Phi_L (the minimal
polynomial of omega_L over Q, of degree phi(L)): the remainder's coefficients are the canonical
coordinates of the element of Z[omega_L] in the basis 1, omega_L, ..., omega_L^(phi(L)-1), so an
element is zero iff all coordinates are, and it is the rational number c iff the coordinates are
(c, 0, ..., 0). All of it is integer (or sympy) arithmetic: nothing is guessed from a float.

Used by theory.single_neuron (the exact single-neuron maximum) and by the exact proofs of
constructions.characters and constructions.exact_margin.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
import sympy as sp
from numpy.lib.stride_tricks import sliding_window_view

from fourier_circuits.theory.errors import FourierCircuitsError
from fourier_circuits.theory.task import IntArray

#: Integer work arrays are int64 while every value provably stays below this (callers bound their
#: coefficients a priori), so integer sums never overflow; beyond it they use Python integers.
INT64_SAFE = 2**62
_x = sp.Symbol("x")


@functools.lru_cache(maxsize=64)
def cyclotomic_polynomial(N: int) -> sp.Poly:
    """Phi_N(x) over the integers, the minimal polynomial of omega_N = e^{2 pi i / N} over Q."""
    return sp.Poly(sp.cyclotomic_poly(N, _x), _x, domain="ZZ")


@functools.lru_cache(maxsize=4096)
def vanishes(N: int, counts: tuple[int, ...]) -> bool:
    """sum_r counts[r] omega_N^r == 0  <=>  Phi_N divides sum_r counts[r] x^r (sympy, exact)."""
    poly = sp.Poly.from_list(list(reversed(counts)), _x, domain="ZZ")
    return bool(poly.rem(cyclotomic_polynomial(N)).is_zero)


@functools.lru_cache(maxsize=64)
def reduction_matrix(L: int) -> IntArray:
    """R: (L, phi(L)) with row r the coefficients of x^r mod Phi_L (ascending), so an element
    sum_r a_r omega_L^r of Z[omega_L] has the canonical coordinates a @ R in 1, omega, ...
    Built by x^(r+1) = x * x^r and x^D = -(Phi_L - x^D), in Python integers."""
    phi = [int(c) for c in reversed(cyclotomic_polynomial(L).all_coeffs())]  # ascending
    D = len(phi) - 1  # phi[D] = 1: Phi_L is monic
    rows = []
    row = [1] + [0] * (D - 1)
    for _ in range(L + 1):
        rows.append(row)
        top = row[-1]
        row = [0, *row[:-1]]
        row = [a - top * b for a, b in zip(row, phi[:D], strict=True)]
    assert rows[L] == rows[0]  # x^L = 1 modulo Phi_L
    if max(abs(a) for r in rows for a in r) >= 2**31:
        raise FourierCircuitsError(f"the reduction modulo Phi_{L} has coefficients beyond 2^31")
    return np.array(rows[:L], dtype=np.int64)


def real_value(coords: Sequence[int], L: int) -> sp.Expr:
    """The real number sum_t coords[t] omega_L^t for canonical coordinates of a real element,
    exactly: an Integer when only the constant coordinate is non-zero, else
    sum_t coords[t] cos(2 pi t / L) (its real part; it is real)."""
    if not any(int(c) for c in coords[1:]):
        return sp.Integer(int(coords[0]))
    return sp.Add(*(int(c) * sp.cos(2 * sp.pi * sp.Rational(t, L)) for t, c in enumerate(coords)))


def exponent_histogram(rows: int, exponents: IntArray, L: int) -> IntArray:
    """counts (rows, L) of exponents (rows, q) modulo L: sum_q x^{exponents[r, q]} per row."""
    flat = (np.arange(rows, dtype=np.int64)[:, None] * L + exponents % L).ravel()
    return np.bincount(flat, minlength=rows * L).reshape(rows, L)


def multiply_by_monomials(P: IntArray, shifts: IntArray) -> IntArray:
    """out[r] = x^{shifts[r]} * P[r] in Z[x]/(x^L - 1): out[r, l] = P[r, (l - shifts[r]) mod L].
    P: (R, L), shifts: (R,). One gather of length-L windows of [P, P]."""
    L = P.shape[1]
    windows = sliding_window_view(np.concatenate([P, P], axis=1), L, axis=1)  # (R, L+1, L)
    return windows[np.arange(P.shape[0]), (-shifts) % L]


def conjugate(a: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Complex conjugation at x = omega_L: omega^r -> omega^(-r), i.e. out[..., r] = a[..., -r]."""
    L = a.shape[-1]
    return a[..., (-np.arange(L)) % L]


def cyclic_product(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """a * b in Z[x]/(x^L - 1): out[..., l] = sum_i a[..., i] b[..., (l - i) mod L] (the cyclic
    convolution), for a, b: (..., L) of one integer dtype (int64, or object for Python integers
    when int64 could overflow; the caller bounds the coefficients)."""
    L = a.shape[-1]
    circulant = b[..., (np.arange(L)[None, :] - np.arange(L)[:, None]) % L]  # [..., i, l]
    return np.matmul(a[..., None, :], circulant)[..., 0, :]
