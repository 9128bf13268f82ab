"""theory.attention: the 2-D DFT against a direct double sum, the conjugate folding, the
concentration of planted 2-D cosines (found) and of noise (not found: the negative control), the
embeddings' key frequencies, and errors that name the argument."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, note
from hypothesis import strategies as st

from fourier_circuits.theory import (
    TOP_FREQUENCIES,
    FourierCircuitsError,
    attention_fourier_concentration,
    attention_spectrum,
    dft2,
    embedding_power,
    explained_share,
    folded_power,
    frequency_classes,
    key_frequencies,
    noise_concentration,
    pooled_concentration,
    query_key_matrix,
)

#: Agreement of float64 FFTs with direct sums of p^2 terms of size ~1: summation order only.
FFT_RTOL = 1e-10
#: A matrix "shows a 2-D cosine" when its top classes hold at least this share of the non-DC
#: power; noise at p = 11 sits near 0.24 (noise_concentration), a planted cosine at 1.
FOUND = 0.5

odd_p = st.sampled_from([5, 7, 11, 13])


def _canonical(j1: int, j2: int, p: int) -> tuple[int, int]:
    """The class representative of (j1, j2) mod p (independent of frequency_classes)."""
    h = (p - 1) // 2
    a, b = ((j1 + h) % p) - h, ((j2 + h) % p) - h  # signed in -h..h
    if a < 0 or (a == 0 and b < 0):
        a, b = -a, -b
    return a, b


def _cosine(p: int, z1: int, z2: int, phi: float, amplitude: float) -> np.ndarray:
    a = np.arange(p)
    return amplitude * np.cos(phi + 2 * np.pi * (z1 * a[:, None] + z2 * a[None, :]) / p)


def test_dft2_is_the_papers_double_sum() -> None:
    p = 5
    M = np.random.default_rng(0).standard_normal((p, p))
    a = np.arange(p)
    direct = np.array(
        [
            [
                sum(M[x, y] * np.exp(-2j * np.pi * (j1 * x + j2 * y) / p) for x in a for y in a)
                for j2 in a
            ]
            for j1 in a
        ]
    )
    np.testing.assert_allclose(dft2(M), direct, rtol=FFT_RTOL, atol=FFT_RTOL)
    # Plancherel: sum |M^|^2 = p^2 ||M||_F^2
    assert np.sum(np.abs(dft2(M)) ** 2) == pytest.approx(p**2 * np.sum(M**2), rel=FFT_RTOL)


@given(p=odd_p)
def test_classes_partition_the_non_dc_frequencies_into_conjugate_pairs(p: int) -> None:
    reps = frequency_classes(p)
    assert len(reps) == (p * p - 1) // 2
    covered = [(a % p, b % p) for a, b in reps] + [(-a % p, -b % p) for a, b in reps]
    assert sorted(covered) == sorted((x, y) for x in range(p) for y in range(p) if (x, y) != (0, 0))
    assert all(tuple(r) == _canonical(int(r[0]), int(r[1]), p) for r in reps)
    M = np.random.default_rng(p).standard_normal((p, p))
    power = np.abs(np.fft.fft2(M)) ** 2
    assert folded_power(M).sum() == pytest.approx(power.sum() - power[0, 0], rel=FFT_RTOL)


@given(
    p=odd_p,
    z1=st.integers(-6, 6),
    z2=st.integers(-6, 6),
    phi=st.floats(-np.pi, np.pi),
    amplitude=st.floats(0.1, 10.0),
    offset=st.floats(-5.0, 5.0),
)
@example(p=11, z1=3, z2=-2, phi=0.3, amplitude=1.0, offset=0.0)
def test_planted_2d_cosine_is_found_with_its_frequency(
    p: int, z1: int, z2: int, phi: float, amplitude: float, offset: float
) -> None:
    if (z1 % p, z2 % p) == (0, 0):
        return  # a constant, not a cosine
    M = _cosine(p, z1, z2, phi, amplitude) + offset  # the offset is DC, excluded
    spectrum = attention_spectrum(M, n_top=1)
    note(f"top {spectrum.top_frequencies}, C_1 {spectrum.concentration}")
    assert spectrum.concentration == pytest.approx(1.0, abs=1e-9)
    assert spectrum.top_frequencies == (_canonical(z1, z2, p),)
    assert attention_fourier_concentration(M) == pytest.approx(1.0, abs=1e-9)


def test_planted_cosine_in_noise_is_still_found() -> None:
    p, rng = 11, np.random.default_rng(1)
    M = _cosine(p, 2, 5, 0.7, 1.0) + 0.1 * rng.standard_normal((p, p))
    spectrum = attention_spectrum(M, n_top=1)
    # cosine class power A^2 p^4 / 2 against noise sigma^2 p^4: share about 0.98
    assert spectrum.concentration > 0.9
    assert spectrum.top_frequencies == ((2, 5),)


def test_outer_product_of_cosines_fills_exactly_four_classes() -> None:
    p = 13
    a = np.arange(p)
    u = 0.5 + np.cos(0.4 + 2 * np.pi * 3 * a / p)
    v = -0.2 + np.cos(1.1 + 2 * np.pi * 5 * a / p)
    spectrum = attention_spectrum(np.outer(u, v))
    assert spectrum.n_top == TOP_FREQUENCIES == 4
    assert spectrum.concentration == pytest.approx(1.0, abs=1e-9)
    assert set(spectrum.top_frequencies) == {(3, 0), (0, 5), (3, 5), (3, -5)}
    assert attention_spectrum(np.outer(u, v), n_top=3).concentration < 0.99


@pytest.mark.parametrize("seed", range(20))
def test_negative_control_noise_shows_no_2d_cosine(seed: int) -> None:
    M = np.random.default_rng(seed).standard_normal((11, 11))
    assert attention_fourier_concentration(M) < FOUND


def test_noise_level_matches_the_order_statistics_of_exponentials() -> None:
    p, n = 11, (11 * 11 - 1) // 2
    level = noise_concentration(p, samples=400, rng=np.random.default_rng(0))
    # independent route: the class powers of white noise are i.i.d. exponential
    rng = np.random.default_rng(1)
    draws = np.sort(rng.exponential(size=(4000, n)), axis=1)
    expected = float(np.mean(draws[:, -4:].sum(axis=1) / draws.sum(axis=1)))
    assert level == pytest.approx(expected, abs=0.02), (level, expected)
    assert level < FOUND


def test_dc_is_excluded_and_reported() -> None:
    p = 7
    M = np.full((p, p), 3.0) + _cosine(p, 1, 1, 0.0, 1.0)
    spectrum = attention_spectrum(M)
    # DC power (3 p^2)^2 against the cosine's 2 (p^2 / 2)^2
    assert spectrum.dc_share == pytest.approx(9 / (9 + 0.5), rel=1e-12)
    assert spectrum.concentration == pytest.approx(1.0)
    assert attention_spectrum(np.zeros((p, p))).concentration == 0.0


def test_query_key_matrix_is_the_score_between_tokens() -> None:
    rng = np.random.default_rng(2)
    E, WQ, WK = (
        rng.standard_normal((7, 6)),
        rng.standard_normal((6, 3)),
        rng.standard_normal((6, 3)),
    )
    M = query_key_matrix(E, WQ, WK)
    for a in range(7):
        for b in range(7):
            assert M[a, b] == pytest.approx(float((E[a] @ WQ) @ (E[b] @ WK)), rel=1e-12)


def test_embedding_key_frequencies_and_explained_share() -> None:
    p = 11
    a = np.arange(p)
    # two coordinates carry frequency 3, one (weaker) frequency 1
    E = np.stack(
        [
            np.cos(2 * np.pi * 3 * a / p),
            np.sin(2 * np.pi * 3 * a / p),
            0.1 * np.cos(2 * np.pi * a / p),
        ],
        axis=1,
    )
    power = embedding_power(E)
    assert power.shape == ((p + 1) // 2,)
    assert key_frequencies(power) == (3,)
    assert key_frequencies(power, share=0.999) == (3, 1)
    spectrum = attention_spectrum(_cosine(p, 3, -3, 0.2, 1.0))
    assert explained_share(spectrum, (3,)) == pytest.approx(1.0)
    assert explained_share(spectrum, (1, 2)) == 0.0  # negative control: other frequencies


def test_pooled_concentration_weights_heads_by_power() -> None:
    p = 11
    strong = attention_spectrum(_cosine(p, 1, 2, 0.0, 10.0))
    noise = attention_spectrum(1e-3 * np.random.default_rng(3).standard_normal((p, p)))
    assert pooled_concentration([strong, noise]) > 0.999
    assert pooled_concentration([noise]) == pytest.approx(noise.concentration)


@pytest.mark.parametrize(
    ("M", "words"),
    [
        (np.zeros((5, 4)), r"square \(p, p\)"),
        (np.zeros((4, 4)), "p must be odd"),
        (np.full((5, 5), np.nan), "non-finite"),
        (np.zeros((5, 5), dtype=bool), "real numbers"),
    ],
)
def test_bad_matrix_is_named(M: np.ndarray, words: str) -> None:
    with pytest.raises(FourierCircuitsError, match=words):
        attention_spectrum(M)


def test_bad_top_count_is_named() -> None:
    with pytest.raises(FourierCircuitsError, match=r"n_top=0 must be an integer in 1\.\.12"):
        attention_spectrum(np.eye(5), n_top=0)
