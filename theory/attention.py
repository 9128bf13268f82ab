"""Fourier analysis of attention matrices between number tokens (arXiv 2402.09469, Sec. 5, Fig. 3).

The paper shows, for a trained one-layer Transformer, the p x p matrix of attention scores between
the p number tokens seen through the embeddings, and its 2-D Fourier spectrum, which is sparse: a
few 2-D frequencies carry almost all the power. This module measures that, in float64 numpy.

Query-key matrix of one head, rows the query token a, columns the key token b:

    M[a, b] = (E[a] W^Q) . (E[b] W^K)      E: (p, d) number-token embeddings, W^Q, W^K: (d, d_head)

i.e. M = E W^Q (W^K)^T E^T, the transpose of E^T W^K (W^Q)^T E in the column layout (E: (d, p)).

2-D DFT in the paper's convention (theory.fourier, applied along both axes; = numpy.fft.fft2):

    M^(j1, j2) = sum_{a, b} M[a, b] exp(-2 pi i (j1 a + j2 b) / p)

with Plancherel sum |M^|^2 = p^2 ||M||_F^2.

Folding. For real M, M^(-j1, -j2) = conj(M^(j1, j2)), so the frequency pair (j1, j2) and its
conjugate (-j1, -j2) (mod p) carry the same power; for odd p no pair but (0, 0) is its own
conjugate. A class is such a pair {(j1, j2), (-j1, -j2)}, named by its representative with signed
entries in -h..h (h = (p-1)/2) and j1 > 0, or j1 = 0 and j2 > 0; its power is the sum of the two
(twice either). There are (p^2 - 1)/2 classes besides the DC term (0, 0).

A 2-D cosine A cos(phi + 2 pi (z1 a + z2 b) / p) puts all its power in the class (z1, z2). A product
of 1-D cosines cos(phi1 + 2 pi z1 a / p) cos(phi2 + 2 pi z2 b / p) puts half in (z1, z2) and half
in (z1, -z2); an outer product (c1 + cos(. z1 a)) (c2 + cos(. z2 b)) uses (z1, 0), (0, z2),
(z1, z2), (z1, -z2) and DC. Hence the default of TOP_FREQUENCIES = 4 classes.

attention_fourier_concentration (DESIGN.md's `attention_fourier_concentration`, per matrix): the
share of the non-DC power that lies in the n_top strongest classes,

    C_n(M) = (sum of the n largest class powers) / (sum of all class powers except DC),

in [n / ((p^2 - 1)/2), 1]; 1 when at most n classes carry power. The DC power, a constant added to
every score (softmax ignores it), is excluded and reported separately as dc_share, its share of
all the power. For i.i.d. Gaussian noise the class powers are i.i.d. exponential, so C_n is about
the share of the n largest of (p^2 - 1)/2 exponentials (0.24 for p = 11, n = 4; see
noise_concentration): the negative control.

Which frequencies the embeddings use: the one-sided power spectrum of E along the token axis
(theory.fourier.one_sided_power, +-zeta folded) summed over the d embedding coordinates, and its
key frequencies, the fewest frequencies 1..h whose power covers KEY_FREQUENCY_SHARE of the non-DC
power. A 2-D class (j1, j2) is explained by the embeddings when each nonzero |j1|, |j2| is a key
frequency.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

import fourier_circuits.theory.budget as budget
from fourier_circuits.theory._validation import FloatArray, check_array, check_int
from fourier_circuits.theory.errors import FourierCircuitsError
from fourier_circuits.theory.fourier import SPECTRUM_BYTES, one_sided_power
from fourier_circuits.theory.task import IntArray, validate_p

#: Classes counted by attention_fourier_concentration by default (module docstring: an outer
#: product of two single-frequency vectors with constant parts uses four).
TOP_FREQUENCIES = 4
#: Key frequencies of the embeddings: the fewest whose power covers this share of the non-DC power.
KEY_FREQUENCY_SHARE = 0.9


def _square_matrix(name: str, M: Any) -> FloatArray:
    """M as a float64 (p, p) matrix with odd p >= 3 and finite real entries."""

    def square_odd(shape: tuple[int, ...]) -> None:
        if len(shape) != 2 or shape[0] != shape[1]:
            raise FourierCircuitsError(
                f"{name} has shape {shape}; it must be a square (p, p) matrix over the p tokens"
            )
        try:
            validate_p(shape[0])
        except FourierCircuitsError:
            raise FourierCircuitsError(
                f"{name} has shape {shape}; p must be odd and >= 3 (conjugate frequency pairs "
                "are folded, which needs odd p)"
            ) from None

    matrix = check_array(name, M, check_shape=square_odd)
    # the complex 2-D DFT and its power, plus the (p^2 - 1)/2 classes (frequency_classes)
    budget.require_memory(
        f"the 2-D spectrum of {name} {matrix.shape}", 2 * SPECTRUM_BYTES * matrix.size
    )
    return matrix


def dft2(M: Any) -> np.ndarray[Any, np.dtype[np.complex128]]:
    """The paper's unnormalised 2-D DFT, M^(j1, j2) = sum_{a,b} M[a, b] e^(-2 pi i (j1 a + j2 b)/p).

    M: (p, p) real, p odd >= 3 -> (p, p) complex; identical to numpy.fft.fft2(M).
    """
    return np.fft.fft2(_square_matrix("M", M))


def frequency_classes(p: int) -> IntArray:
    """The (p^2 - 1)/2 non-DC classes {j, -j} of 2-D frequencies mod p, each as its representative
    (j1, j2) with signed entries in -h..h and j1 > 0, or j1 = 0 and j2 > 0; shape ((p^2-1)/2, 2),
    ordered by j1, then j2."""
    p = validate_p(p)
    h = (p - 1) // 2
    # a Python tuple of two ints (about 120 bytes) per class, then 16 bytes each in the array
    n_classes = (p * p - 1) // 2
    budget.require_steps(f"the {n_classes} frequency classes of p={p}", n_classes)
    budget.require_memory(f"the {n_classes} frequency classes of p={p}", 136 * n_classes)
    reps = [(0, j2) for j2 in range(1, h + 1)]
    reps += [(j1, j2) for j1 in range(1, h + 1) for j2 in range(-h, h + 1)]
    return np.array(reps, dtype=np.int64)


def folded_power(M: Any) -> FloatArray:
    """Power of each class of frequency_classes(p): |M^(j)|^2 + |M^(-j)|^2, shape ((p^2-1)/2,)."""
    matrix = _square_matrix("M", M)
    p = matrix.shape[0]
    power = np.abs(np.fft.fft2(matrix)) ** 2
    reps = frequency_classes(p)
    j1, j2 = reps[:, 0] % p, reps[:, 1] % p
    # (-j1, -j2) mod p is the conjugate; for real M both halves are equal
    return np.asarray(power[j1, j2] + power[(-j1) % p, (-j2) % p], dtype=np.float64)


@dataclass(frozen=True)
class AttentionSpectrum:
    """The 2-D Fourier statistics of one p x p matrix (module docstring for the definitions).

    power: (p, p) |M^(j1, j2)|^2 (numpy.fft.fft2 layout: index j mod p).
    classes: (n_classes, 2) non-DC class representatives, strongest first.
    class_shares: (n_classes,) each class's share of the non-DC power, descending (sum 1; all 0
        when the non-DC power is 0).
    dc_share: |M^(0, 0)|^2 / sum |M^|^2 (0 for the zero matrix).
    n_top: how many classes `concentration` counts.
    concentration: C_n = sum of the n_top largest class_shares.
    """

    p: int
    power: FloatArray
    classes: IntArray
    class_shares: FloatArray
    dc_share: float
    n_top: int
    concentration: float

    @property
    def top_frequencies(self) -> tuple[tuple[int, int], ...]:
        """The n_top strongest classes as (j1, j2), strongest first."""
        return tuple((int(a), int(b)) for a, b in self.classes[: self.n_top])

    @property
    def top_shares(self) -> tuple[float, ...]:
        """Their shares of the non-DC power."""
        return tuple(float(s) for s in self.class_shares[: self.n_top])

    @property
    def non_dc_power(self) -> float:
        """sum |M^|^2 over every frequency pair except (0, 0)."""
        return float(self.power.sum() - self.power[0, 0])


def _top_count(n_top: object, n_classes: int) -> int:
    return check_int(
        "n_top",
        n_top,
        min_value=1,
        max_value=n_classes,
        rule=f"an integer in 1..{n_classes} (the number of non-DC conjugate classes, (p^2 - 1)/2)",
    )


def attention_spectrum(M: Any, *, n_top: int = TOP_FREQUENCIES) -> AttentionSpectrum:
    """The 2-D spectrum of M with its classes ranked and the concentration C_{n_top}."""
    matrix = _square_matrix("M", M)
    p = matrix.shape[0]
    reps = frequency_classes(p)
    n_top = _top_count(n_top, len(reps))
    power = np.abs(np.fft.fft2(matrix)) ** 2  # (p, p)
    j1, j2 = reps[:, 0] % p, reps[:, 1] % p
    folded = power[j1, j2] + power[(-j1) % p, (-j2) % p]
    order = np.argsort(-folded, kind="stable")  # strongest first; ties by (j1, j2)
    total = float(folded.sum())
    shares = folded[order] / total if total > 0 else np.zeros_like(folded)
    everything = float(power.sum())
    return AttentionSpectrum(
        p=p,
        power=power,
        classes=reps[order],
        class_shares=shares,
        dc_share=float(power[0, 0] / everything) if everything > 0 else 0.0,
        n_top=n_top,
        concentration=float(shares[:n_top].sum()),
    )


def attention_fourier_concentration(M: Any, *, n_top: int = TOP_FREQUENCIES) -> float:
    """C_n(M): the share of M's non-DC 2-D Fourier power in its n_top strongest conjugate classes
    (module docstring); 0 for a matrix with no non-DC power."""
    return attention_spectrum(M, n_top=n_top).concentration


class Pooled(Protocol):
    """A spectrum that pools: its non-DC power and the share of it in its top classes."""

    @property
    def non_dc_power(self) -> float: ...
    @property
    def concentration(self) -> float: ...


def pooled_concentration(spectra: Sequence[Pooled], *, what: str = "pooled_concentration") -> float:
    """The concentration of several heads together, weighted by power: the sum over heads of the
    power in each head's own top classes over the sum of their non-DC powers (so a head whose
    matrix has almost no power, e.g. one shrunk by weight decay, counts for almost nothing).
    Any spectra with non_dc_power and concentration pool so (theory.spectra's vectors too)."""
    if not spectra:
        raise FourierCircuitsError(f"{what} needs at least one spectrum")
    weights = np.array([s.non_dc_power for s in spectra])
    total = float(weights.sum())
    if total <= 0:
        return 0.0
    return float(sum(w * s.concentration for w, s in zip(weights, spectra, strict=True)) / total)


def query_key_matrix(E: Any, WQ: Any, WK: Any) -> FloatArray:
    """M[a, b] = (E[a] W^Q) . (E[b] W^K): E (p, d) number-token embeddings, W^Q, W^K (d, d_head)
    of one head; float64 (p, p). The unscaled score (softmax divides it by sqrt(d_head))."""
    e, wq, wk = (np.asarray(x, dtype=np.float64) for x in (E, WQ, WK))
    if e.ndim != 2 or wq.ndim != 2 or wk.shape != wq.shape or wq.shape[0] != e.shape[1]:
        raise FourierCircuitsError(
            f"E {e.shape}, W^Q {wq.shape}, W^K {wk.shape}: need E (p, d) and W^Q, W^K (d, d_head)"
        )
    return (e @ wq) @ (e @ wk).T


def embedding_power(E: Any) -> FloatArray:
    """One-sided power spectrum of the embeddings along the token axis, summed over coordinates:
    E (p, d) -> ((p+1)/2,), index 0 the DC power, index zeta the power at +-zeta."""
    array = np.asarray(E, dtype=np.float64)
    if array.ndim != 2:
        raise FourierCircuitsError(f"E has shape {array.shape}; it must be (p, d)")
    return one_sided_power(array.T).sum(axis=0)


def key_frequencies(power: Any, *, share: float = KEY_FREQUENCY_SHARE) -> tuple[int, ...]:
    """The fewest frequencies zeta >= 1 of a one-sided spectrum whose power covers `share` of the
    non-DC power, strongest first (empty when there is no non-DC power)."""
    values = np.asarray(power, dtype=np.float64)[1:]
    total = float(values.sum())
    if total <= 0:
        return ()
    order = np.argsort(-values, kind="stable")
    covered = np.cumsum(values[order]) / total
    count = int(np.searchsorted(covered, share - 1e-12)) + 1
    return tuple(int(z) + 1 for z in order[:count])


def explained_share(spectrum: AttentionSpectrum, frequencies: tuple[int, ...]) -> float:
    """The share of the non-DC power of `spectrum`'s top classes (j1, j2) whose nonzero |j1|, |j2|
    all lie in `frequencies` (e.g. the embeddings' key frequencies), relative to the top classes'
    power: 1 when every top class is built from those frequencies."""
    allowed = set(frequencies)
    top = spectrum.class_shares[: spectrum.n_top]
    total = float(top.sum())
    if total <= 0:
        return 0.0
    inside = sum(
        float(s)
        for (j1, j2), s in zip(spectrum.top_frequencies, top, strict=True)
        if {abs(j1), abs(j2)} - {0} <= allowed
    )
    return inside / total


def noise_concentrations(
    p: int, *, n_top: int = TOP_FREQUENCIES, samples: int = 200, rng: np.random.Generator
) -> FloatArray:
    """C_{n_top} of `samples` i.i.d. standard Gaussian p x p matrices: the distribution a matrix
    without Fourier structure follows (a concentration above its upper tail is not chance)."""
    p = validate_p(p)
    samples = check_int("samples", samples, min_value=1)  # "samples=0 must be an integer >= 1"
    if not isinstance(rng, np.random.Generator):
        raise FourierCircuitsError(
            f"rng={rng!r} must be a numpy.random.Generator (e.g. numpy.random.default_rng(0))"
        )
    # per sample: a p x p Gaussian draw, its 2-D FFT (about 10 p^2 log2 p flop), the ranking of
    # the (p^2 - 1)/2 classes (an argsort, about 5 p^2 log2 p) and the classes themselves
    # (frequency_classes: (p^2 - 1)/2 Python-level steps)
    quantity = f"{samples} noise samples of p={p}"
    budget.require_time(quantity, samples * 15 * p * p * max(math.log2(p), 1))
    budget.require_steps(quantity, samples * (p * p - 1) // 2)
    budget.require_memory(quantity, (8 + 2 * SPECTRUM_BYTES + 68) * p * p)  # one sample at a time
    return np.array(
        [
            attention_spectrum(rng.standard_normal((p, p)), n_top=n_top).concentration
            for _ in range(samples)
        ]
    )


def noise_concentration(
    p: int, *, n_top: int = TOP_FREQUENCIES, samples: int = 200, rng: np.random.Generator
) -> float:
    """The mean C_{n_top} of `samples` i.i.d. standard Gaussian p x p matrices: the level a matrix
    without Fourier structure reaches (the negative control's expectation)."""
    return float(np.mean(noise_concentrations(p, n_top=n_top, samples=samples, rng=rng)))
