"""Fourier statistics of vectors over Z_p and of functions on Z_p^k, for Transformers read from
other tools (Nanda et al., "Progress measures for grokking via mechanistic interpretability",
arXiv 2301.05217; Fig. 3 of arXiv 2402.09469). Pure numpy; the DFT is the paper's (theory.fourier).

1-D spectrum of a vector v over Z_p (p odd), e.g. the attention scores of the '=' query against
the p number keys (a (1, p) row, which theory.attention_spectrum, for (p, p) matrices, refuses):
the one-sided power P(0..h), h = (p-1)/2, with +-zeta folded (theory.fourier.one_sided_power),

    C_n(v) = (sum of the n largest P(zeta), zeta = 1..h) / (sum of P(zeta), zeta = 1..h),

the share of the non-DC power in the n strongest frequencies (1 for a single cosine when n >= 1,
n / h on average for a flat spectrum). The DC power, a constant that softmax ignores, is left out
and reported as dc_share.

Key frequencies that stand out (standout_frequencies): sort the powers P(1..h) in decreasing
order, P_(1) >= ... >= P_(h); the key frequencies are the first i*, where i* < h is the largest
drop, maximising P_(i) / P_(i+1) (a P_(i+1) below STANDOUT_FLOOR x P_(1) counts as an infinite
drop; ties: the first), provided that drop is at least STANDOUT_FACTOR (2); otherwise none stand
out. For a spectrum summed over d independent noise coordinates the P(zeta) are chi-square with
2 d degrees of freedom, all near their mean (consecutive ratios near 1): none stand out. A
trained model's few key frequencies (Nanda et al.) sit above a drop, whatever their number.

Single-frequency share of a function f on Z_p^k (single_frequency_shares; Nanda et al.'s neuron
criterion for k = 2, here for any k): with the k-dimensional DFT f^(j), j in Z_p^k, the
components of frequency zeta are the j != 0 whose every entry is 0, +zeta or -zeta (mod p), i.e.
the products of 1, cos(2 pi zeta a_i / p), sin(2 pi zeta a_i / p) over the inputs except the
constant (3^k - 1 frequency vectors; for k = 2 Nanda's cos/sin of a, of b, and their products).
Their share of the variance is

    S_zeta(f) = sum_{j in J_zeta} |f^(j)|^2 / sum_{j != 0} |f^(j)|^2          (Parseval)

and f is single-frequency when max_zeta S_zeta > NEURON_SHARE (0.85, Nanda et al.). The sets
J_zeta are disjoint for distinct zeta in 1..h, so the S_zeta add up to at most 1.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

import fourier_circuits.theory.budget as budget
from fourier_circuits.theory._validation import FloatArray, check_array, check_int
from fourier_circuits.theory.attention import pooled_concentration
from fourier_circuits.theory.errors import FourierCircuitsError
from fourier_circuits.theory.fourier import SPECTRUM_BYTES, one_sided_power
from fourier_circuits.theory.task import IntArray, validate_k, validate_p

#: Frequencies counted by vector_concentration by default: one cosine with a constant part puts
#: all its non-DC power in one frequency; two allow a head that mixes two key frequencies.
VECTOR_TOP_FREQUENCIES = 2
#: Key frequencies sit above a drop of at least this ratio in the sorted powers.
STANDOUT_FACTOR = 2.0
#: A power below this share of the largest is round-off (an infinite drop above it).
STANDOUT_FLOOR = 1e-9
#: A function whose non-DC power is at most this share of its power is constant (round-off).
CONSTANT_SHARE = 1e-20
#: Nanda et al.'s threshold: a neuron is single-frequency above this share of its variance.
NEURON_SHARE = 0.85


@dataclass(frozen=True)
class VectorSpectrum:
    """The 1-D Fourier statistics of one vector over Z_p (module docstring).

    power: ((p+1)/2,) one-sided power, index 0 the DC term, index zeta the power at +-zeta.
    frequencies: 1..h, strongest first (ties by frequency).
    shares: their shares of the non-DC power, descending (all 0 when it is 0).
    dc_share: power[0] / power.sum() (0 for the zero vector).
    n_top, concentration: C_{n_top}, the sum of the n_top largest shares.
    """

    p: int
    power: FloatArray
    frequencies: IntArray
    shares: FloatArray
    dc_share: float
    n_top: int
    concentration: float

    @property
    def non_dc_power(self) -> float:
        return float(self.power[1:].sum())

    @property
    def top_frequencies(self) -> tuple[int, ...]:
        return tuple(int(z) for z in self.frequencies[: self.n_top])


def vector_spectrum(v: Any, *, n_top: int = VECTOR_TOP_FREQUENCIES) -> VectorSpectrum:
    """The VectorSpectrum of v: (p,) real, p odd >= 3."""
    vector = check_array("v", v, ndim=1, axes=" (a vector over the p tokens)")
    power = one_sided_power(vector)  # validates p
    p = vector.shape[0]
    h = (p - 1) // 2
    n_top = check_int("n_top", n_top, min_value=1, max_value=h)
    values = power[1:]
    order = np.argsort(-values, kind="stable")
    total = float(values.sum())
    shares = values[order] / total if total > 0 else np.zeros(h)
    everything = float(power.sum())
    return VectorSpectrum(
        p=p,
        power=power,
        frequencies=(order + 1).astype(np.int64),
        shares=shares,
        dc_share=float(power[0] / everything) if everything > 0 else 0.0,
        n_top=n_top,
        concentration=float(shares[:n_top].sum()),
    )


def pooled_vector_concentration(
    spectra: tuple[VectorSpectrum, ...] | list[VectorSpectrum],
) -> float:
    """Several vectors' concentration together, weighted by their non-DC power (as
    theory.pooled_concentration pools heads, which computes it): 0 when none has any."""
    return pooled_concentration(spectra, what="pooled_vector_concentration")


def standout_frequencies(power: Any, *, factor: float = STANDOUT_FACTOR) -> tuple[int, ...]:
    """The frequencies zeta >= 1 of a one-sided spectrum ((p+1)/2,) above its largest drop, when
    that drop is at least `factor`, strongest first (module docstring)."""
    values = check_array("power", power, ndim=1, axes=" (a one-sided spectrum, index 0 DC)")
    if values.shape[0] < 2 or np.any(values < 0):
        raise FourierCircuitsError(
            f"power has shape {values.shape} with min {values.min() if values.size else None}: "
            "it must be a one-sided power spectrum (index 0 DC, then zeta = 1..h), all >= 0"
        )
    if not (isinstance(factor, (int, float)) and factor > 1):
        raise FourierCircuitsError(f"factor={factor!r} must be a number > 1")
    rest = values[1:]
    order = np.argsort(-rest, kind="stable")
    ranked = rest[order]
    if ranked.size < 2 or ranked[0] <= 0:
        return ()
    below = ranked[1:] <= STANDOUT_FLOOR * ranked[0]  # round-off of an exactly sparse spectrum
    drops = np.where(below, np.inf, ranked[:-1] / np.where(below, 1.0, ranked[1:]))
    cut = int(np.argmax(drops))  # the first largest drop
    if drops[cut] < factor:
        return ()
    return tuple(int(z) + 1 for z in order[: cut + 1])


def frequency_vectors(p: int, k: int, zeta: int) -> IntArray:
    """J_zeta: the 3^k - 1 frequency vectors j in Z_p^k, j != 0, with every entry in
    {0, zeta, -zeta} mod p; shape (3^k - 1, k), entries in 0..p-1."""
    p, k = validate_p(p), validate_k(k)
    h = (p - 1) // 2
    zeta = check_int("zeta", zeta, min_value=1, max_value=h)
    budget.require_steps(f"the 3^{k} frequency vectors of one frequency", 3**k)
    choices = (0, zeta, p - zeta)
    rows = [j for j in itertools.product(choices, repeat=k) if any(j)]
    return np.array(rows, dtype=np.int64)


def single_frequency_shares(values: Any, *, p: int, k: int) -> FloatArray:
    """S_zeta of each row of values (n, p^k), the function's values on D_p in lexicographic order
    (a_1 most significant, theory.iter_chunks's order): (n, h), zeta = 1..h in the columns; a row
    with no variance (non-DC power <= CONSTANT_SHARE of the power) gives zeros (module
    docstring)."""
    p, k = validate_p(p), validate_k(k)
    rows = check_array("values", values, ndim=2, axes=" (functions, p^k values each)")
    n_values = p**k
    if rows.shape[1] != n_values:
        raise FourierCircuitsError(
            f"values has shape {rows.shape}; each row must hold the p^k = {n_values} values of "
            f"a function on Z_{p}^{k}"
        )
    h = (p - 1) // 2
    budget.require_memory(
        f"the {k}-D spectra of {rows.shape[0]} functions on Z_{p}^{k}", SPECTRUM_BYTES * n_values
    )  # one row at a time
    budget.require_time(
        f"the {k}-D spectra of {rows.shape[0]} functions on Z_{p}^{k}",
        5.0 * rows.shape[0] * n_values * max(np.log2(n_values), 1.0),
    )
    # flat indices into the (p,)*k spectrum of every J_zeta
    flat = [
        np.ravel_multi_index(tuple(frequency_vectors(p, k, z).T), (p,) * k) for z in range(1, h + 1)
    ]
    shares = np.zeros((rows.shape[0], h))
    for i, row in enumerate(rows):
        power = (np.abs(np.fft.fftn(row.reshape((p,) * k))) ** 2).ravel()
        non_dc = float(power.sum() - power[0])
        if non_dc <= CONSTANT_SHARE * float(power.sum()):  # constant up to round-off: no variance
            continue
        shares[i] = [float(power[index].sum()) / non_dc for index in flat]
    return shares
