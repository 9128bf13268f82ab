"""Fourier analysis of the paper's network (arXiv 2402.09469, Theorem 4.1 (ii)-(iii)).

DFT convention of the paper (THEORY.md, proof outline step 1), the unnormalised transform

    u^(j) = sum_{a=0}^{p-1} u(a) exp(-2 pi i j a / p)        (= numpy.fft.fft)

with Plancherel  sum_j |u^(j)|^2 = p ||u||^2.  A cosine A cos(phi + 2 pi zeta a / p) with
zeta != 0 (mod p) has u^(zeta) = (A p / 2) e^{i phi}, so phi = angle(u^(zeta)) and
A = 2 |u^(zeta)| / p.

For real u of odd length p, |u^(p-j)| = |u^(j)|, and the one-sided power spectrum folds +-zeta:
index 0 holds |u^(0)|^2 (the DC power), index zeta in 1..(p-1)/2 holds
|u^(zeta)|^2 + |u^(p-zeta)|^2. The paper's "maximum normalized power" (its experiments; THEORY.md,
"Experiments in the paper") is the largest entry of the one-sided spectrum over its sum.

Per neuron i of a PolyNet (U: (m, k, p), W: (m, p)) the k+1 vectors u_{i,1}, ..., u_{i,k}, w_i are
analysed together: Theorem 4.1 (ii) says that in a max-margin network they are cosines of one
frequency zeta in 1..(p-1)/2 with equal amplitude and phi_1 + ... + phi_k = phi_w; Theorem 4.1
(iii) says every frequency is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

import fourier_circuits.theory.budget as budget
from fourier_circuits.theory._validation import FloatArray, check_array
from fourier_circuits.theory.errors import FourierCircuitsError
from fourier_circuits.theory.network import PolyNet
from fourier_circuits.theory.task import IntArray, validate_p
from fourier_circuits.theory.tolerances import ACTIVE_SHARE, PHASE_ATOL, SINGLE_FREQUENCY_POWER

ComplexArray = npt.NDArray[np.complex128]
BoolArray = npt.NDArray[np.bool_]

#: Bytes per real input value of a spectrum's peak: the complex DFT (16), |.|^2 and its
#: temporary (8 + 8), the folded power (about 4) and the inputs' stacked copy (8).
SPECTRUM_BYTES = 48


def _require_net(net: object) -> None:
    if not isinstance(net, PolyNet):
        raise FourierCircuitsError(f"net={type(net).__name__} must be a theory.PolyNet")


def require_spectrum(quantity: str, n_values: int) -> None:
    """Refuse the Fourier statistics of n_values real numbers that would not fit in memory
    (theory.budget: SPECTRUM_BYTES a value)."""
    budget.require_memory(
        f"the Fourier spectra of {quantity}", SPECTRUM_BYTES * n_values, fix="a smaller network"
    )


def _real_vectors(name: str, u: Any) -> FloatArray:
    """u as float64 with a last axis of odd length p >= 3, or a FourierCircuitsError."""

    def odd_last_axis(shape: tuple[int, ...]) -> None:
        if not shape:
            raise FourierCircuitsError(f"{name} is a scalar; it must have a last axis of length p")
        try:
            validate_p(shape[-1])
        except FourierCircuitsError:
            raise FourierCircuitsError(
                f"{name} has shape {shape}; its last axis is the length p of Z_p and must be "
                "odd and >= 3 (the one-sided spectrum folds +-zeta, which needs odd p)"
            ) from None

    vectors = check_array(name, u, check_shape=odd_last_axis)
    require_spectrum(f"{name} of shape {vectors.shape}", vectors.size)
    return vectors


def dft(u: Any) -> ComplexArray:
    """The paper's unnormalised DFT along the last axis: u^(j) = sum_a u(a) exp(-2 pi i j a / p).

    u: (..., p) real, p odd >= 3  ->  (..., p) complex; identical to numpy.fft.fft(u, axis=-1).
    """
    return np.fft.fft(_real_vectors("u", u), axis=-1)


def _fold(spectrum: ComplexArray) -> FloatArray:
    """One-sided power of a full spectrum (..., p): |s(0)|^2, then |s(z)|^2 + |s(p-z)|^2."""
    p = spectrum.shape[-1]
    h = (p - 1) // 2
    power = np.abs(spectrum) ** 2
    folded = np.empty((*power.shape[:-1], h + 1))
    folded[..., 0] = power[..., 0]
    # index zeta pairs with p - zeta; for real u the two halves are equal (|u^(-j)| = |u^(j)|)
    folded[..., 1:] = power[..., 1 : h + 1] + power[..., p - 1 : h : -1]
    return folded


def one_sided_power(u: Any) -> FloatArray:
    """One-sided power spectrum of real vectors, (..., p) -> (..., (p+1)/2).

    Index 0: |u^(0)|^2.  Index zeta in 1..(p-1)/2: |u^(zeta)|^2 + |u^(p-zeta)|^2.
    The entries sum to p ||u||^2 (Plancherel).
    """
    return _fold(dft(u))


def _ratio(num: FloatArray, den: FloatArray) -> FloatArray:
    """num / den with 0 where den == 0 (a zero vector has no dominant frequency: power 0)."""
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=den > 0)
    return out


def max_normalized_power(u: Any) -> FloatArray:
    """The paper's maximum normalized power of each vector: max_zeta P(zeta) / sum_zeta P(zeta)
    on the one-sided spectrum P (+-zeta folded). (..., p) -> (...); 0 for a zero vector.

    1 exactly for a single cosine of one frequency (or a constant); about the share of the
    largest of (p+1)/2 chi-square bins for a random Gaussian vector.
    """
    power = one_sided_power(u)
    return _ratio(power.max(axis=-1), power.sum(axis=-1))


def wrap_phase(x: Any) -> FloatArray:
    """Angles wrapped to (-pi, pi]:  pi - ((pi - x) mod 2 pi)."""
    return np.pi - np.mod(np.pi - np.asarray(x, dtype=np.float64), 2 * np.pi)


def active_neurons(net: PolyNet) -> BoolArray:
    """Neurons that carry the network: ||theta_i||^(k+1) >= ACTIVE_SHARE * max_i ||theta_i||^(k+1).

    By (k+1)-homogeneity neuron i contributes ||theta_i||^(k+1) times a unit neuron's logits, so the
    others each move the normalized margin by less than ACTIVE_SHARE of the largest contribution.
    """
    _require_net(net)
    weight = net.neuron_norms() ** (net.k + 1)
    return np.asarray(weight >= ACTIVE_SHARE * weight.max(), dtype=np.bool_)


@dataclass(frozen=True)
class NeuronSpectra:
    """Per-neuron Fourier statistics of a PolyNet; vector v = 0..k-1 is u_{i,v+1}, v = k is w_i.

    h = (p-1)/2. Arrays (all read as the paper's convention, module docstring):
    power: (m, k+1, h+1) one-sided power spectrum of each of the k+1 vectors.
    dominant: (m,) argmax over zeta = 0..h of the neuron's total power sum_v power[i, v, zeta].
    max_normalized_power: (m,) sum_v power[i, v, dominant] / sum_{v, zeta} power[i, v, zeta].
    vector_max_normalized_power: (m, k+1) max_zeta power / sum_zeta power, per vector.
    phases: (m, k+1) angle(v^(dominant)) in (-pi, pi]: phi_1, ..., phi_k, phi_w.
    phase_residual: (m,) phi_1 + ... + phi_k - phi_w wrapped to (-pi, pi] (0 for max-margin
        neurons, Theorem 4.1 (ii)).
    amplitudes: (m, k+1) 2 |v^(zeta)| / p at zeta = dominant >= 1 (the A of A cos(phi + 2 pi zeta
        a / p)); |v^(0)| / p, the constant's magnitude, when dominant = 0.
    amplitude_balance: (m,) min_v amplitude / max_v amplitude (1 for max-margin neurons; 0 for a
        neuron whose amplitudes are all 0).
    norms: (m,) ||theta_i||_2.  active: (m,) see active_neurons.
    """

    p: int
    k: int
    power: FloatArray
    dominant: IntArray
    max_normalized_power: FloatArray
    vector_max_normalized_power: FloatArray
    phases: FloatArray
    phase_residual: FloatArray
    amplitudes: FloatArray
    amplitude_balance: FloatArray
    norms: FloatArray
    active: BoolArray

    @property
    def m(self) -> int:
        return int(self.dominant.shape[0])

    @property
    def single_frequency(self) -> BoolArray:
        """(m,) max normalized power >= tolerances.SINGLE_FREQUENCY_POWER."""
        return np.asarray(self.max_normalized_power >= SINGLE_FREQUENCY_POWER, dtype=np.bool_)


def neuron_spectra(net: PolyNet) -> NeuronSpectra:
    """The per-neuron statistics of NeuronSpectra, from one DFT of the (m, k+1, p) stack [U, W]."""
    _require_net(net)
    p, k, m = net.p, net.k, net.m
    require_spectrum(f"the network (m, k, p) = ({m}, {k}, {p})", m * (k + 1) * p)
    vectors = np.concatenate([net.U, net.W[:, None, :]], axis=1)  # (m, k+1, p)
    spectrum = np.fft.fft(vectors, axis=-1)  # (m, k+1, p) the paper's u^(j)
    power = _fold(spectrum)  # (m, k+1, h+1)
    per_frequency = power.sum(axis=1)  # (m, h+1)
    dominant = np.argmax(per_frequency, axis=1).astype(np.int64)  # (m,)
    rows = np.arange(m)
    at_dominant = spectrum[rows, :, dominant]  # (m, k+1) v^(zeta_i)
    phases = np.angle(at_dominant)
    # A cos(phi + 2 pi zeta a / p) has |u^(zeta)| = A p / 2 for zeta != 0, and a constant c has
    # |u^(0)| = |c| p.
    amplitudes = np.abs(at_dominant) * np.where(dominant > 0, 2.0, 1.0)[:, None] / p
    return NeuronSpectra(
        p=p,
        k=k,
        power=power,
        dominant=dominant,
        max_normalized_power=_ratio(per_frequency[rows, dominant], per_frequency.sum(axis=1)),
        vector_max_normalized_power=_ratio(power.max(axis=-1), power.sum(axis=-1)),
        phases=phases,
        phase_residual=wrap_phase(phases[:, :k].sum(axis=1) - phases[:, k]),
        amplitudes=amplitudes,
        amplitude_balance=_ratio(amplitudes.min(axis=1), amplitudes.max(axis=1)),
        norms=net.neuron_norms(),
        active=active_neurons(net),
    )


def frequency_coverage(spectra: NeuronSpectra) -> tuple[float, tuple[int, ...]]:
    """(fraction, missing): the share of the frequencies 1..(p-1)/2 that are the dominant frequency
    of at least one active neuron (DESIGN.md `frequencies_covered`; Theorem 4.1 (iii) says it is 1
    for every max-margin network), and the frequencies that are not."""
    h = (spectra.p - 1) // 2
    used = set(spectra.dominant[spectra.active].tolist())
    missing = tuple(z for z in range(1, h + 1) if z not in used)
    return (h - len(missing)) / h, missing


@dataclass(frozen=True)
class FourierSummary:
    """Network-level Fourier statistics over the active neurons (Theorem 4.1 (ii)-(iii)).

    frequencies_covered: share of 1..(p-1)/2 that some active neuron has as dominant frequency.
    missing_frequencies: those that none has.
    max_normalized_power_median / _min: of the neurons' max normalized power.
    single_frequency_share: share with max normalized power >= SINGLE_FREQUENCY_POWER.
    max_phase_residual: max |phi_1 + ... + phi_k - phi_w| (wrapped) in radians.
    min_amplitude_balance: min over neurons of min/max amplitude of their k+1 vectors.
    neurons_per_frequency: active neurons per dominant frequency zeta = 0..(p-1)/2 (index 0: DC).
    """

    p: int
    k: int
    m: int
    n_active: int
    frequencies_covered: float
    missing_frequencies: tuple[int, ...]
    max_normalized_power_median: float
    max_normalized_power_min: float
    single_frequency_share: float
    max_phase_residual: float
    min_amplitude_balance: float
    neurons_per_frequency: tuple[int, ...]

    @property
    def covers_every_frequency(self) -> bool:
        """Theorem 4.1 (iii)."""
        return not self.missing_frequencies

    @property
    def all_single_frequency(self) -> bool:
        """Theorem 4.1 (ii), first half: every active neuron is one cosine frequency."""
        return self.single_frequency_share == 1.0

    @property
    def phase_sums_vanish(self) -> bool:
        """Theorem 4.1 (ii): phi_1 + ... + phi_k = phi_w for every active neuron (PHASE_ATOL)."""
        return self.max_phase_residual <= PHASE_ATOL


def fourier_summary(net: PolyNet, *, spectra: NeuronSpectra | None = None) -> FourierSummary:
    """Summarise neuron_spectra(net) over the active neurons (pass `spectra` to reuse them)."""
    s = spectra if spectra is not None else neuron_spectra(net)
    act = s.active
    fraction, missing = frequency_coverage(s)
    power = s.max_normalized_power[act]
    return FourierSummary(
        p=s.p,
        k=s.k,
        m=s.m,
        n_active=int(act.sum()),
        frequencies_covered=fraction,
        missing_frequencies=missing,
        max_normalized_power_median=float(np.median(power)),
        max_normalized_power_min=float(power.min()),
        single_frequency_share=float(np.mean(s.single_frequency[act])),
        max_phase_residual=float(np.abs(s.phase_residual[act]).max()),
        min_amplitude_balance=float(s.amplitude_balance[act].min()),
        neurons_per_frequency=tuple(
            int(c) for c in np.bincount(s.dominant[act], minlength=(s.p + 1) // 2)
        ),
    )
