"""Frequency rebalancing of the "margin" optimiser (constructions.training.rebalance)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fourier_circuits.constructions.training import TrainConfig, model, rebalance, train
from fourier_circuits.theory import FourierCircuitsError, PolyNet, neuron_spectra


def _cosines(p: int, k: int, frequencies: list[int], seed: int) -> dict[str, torch.Tensor]:
    """One single-cosine neuron (phase-sum rule) per entry of `frequencies`, random phases and
    norms between 0.5 and 1."""
    rng = np.random.default_rng(seed)
    a = np.arange(p)
    U = np.empty((len(frequencies), k, p))
    W = np.empty((len(frequencies), p))
    for i, f in enumerate(frequencies):
        phases = rng.uniform(0, 2 * math.pi, k)
        U[i] = np.cos(2 * math.pi * f * a[None, :] / p + phases[:, None])
        W[i] = np.cos(2 * math.pi * f * a / p + phases.sum())
        scale = rng.uniform(0.5, 1.0) / math.sqrt((U[i] ** 2).sum() + (W[i] ** 2).sum())
        U[i] *= scale
        W[i] *= scale
    return {"U": torch.tensor(U), "W": torch.tensor(W)}


def _moments(params: dict[str, torch.Tensor]) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    return {n: (torch.zeros_like(x), torch.zeros_like(x)) for n, x in params.items()}


def _counts(params: dict[str, torch.Tensor], p: int, k: int) -> np.ndarray:
    spectra = neuron_spectra(PolyNet(params["U"].numpy(), params["W"].numpy()))
    dom = spectra.dominant[spectra.active]
    return np.bincount(dom, minlength=(p - 1) // 2 + 1)[1:]


def test_an_empty_frequency_gets_neurons_and_a_crowded_one_gives_them() -> None:
    p, k = 11, 2  # frequencies 1..5; 20 neurons: mean 4 a frequency
    frequencies = [1] * 9 + [2] * 4 + [3] * 4 + [4] * 3
    params = _cosines(p, k, frequencies, seed=0)  # frequency 5 empty, 4 one short, 1 crowded
    before = _counts(params, p, k)
    assert before.tolist() == [9, 4, 4, 3, 0]
    born = rebalance.rebalance(
        params, _moments(params), split_noise=0.1, generator=torch.Generator().manual_seed(0)
    )
    after = _counts(params, p, k)
    assert born == 2
    assert after.tolist() == [7, 4, 4, 4, 1]
    # every neuron is still (nearly) one cosine: the born one exactly, the split halves but noise
    spectra = neuron_spectra(PolyNet(params["U"].numpy(), params["W"].numpy()))
    assert spectra.max_normalized_power.min() > 0.95  # the split's 10% noise: 0.990


def test_a_lower_target_leaves_frequencies_at_it_alone() -> None:
    """After the hand-over to L-BFGS the target is rebalance.lbfgs_rebalance_target: a frequency
    at the target keeps its neurons, one below it still gets one."""
    p, k = 11, 2
    frequencies = [1] * 9 + [2] * 4 + [3] * 4 + [4] * 3
    params = _cosines(p, k, frequencies, seed=0)
    g = torch.Generator().manual_seed(0)
    assert (
        rebalance.rebalance(params, _moments(params), split_noise=0.1, generator=g, target=3) == 1
    )
    assert _counts(params, p, k).tolist() == [8, 4, 4, 3, 1]  # only the empty frequency
    # a target above the mean is the mean (4): frequencies 4 and 5 are short
    born = rebalance.rebalance(params, _moments(params), split_noise=0.1, generator=g, target=9)
    assert born == 2
    assert _counts(params, p, k)[3] == 4


def test_a_split_changes_the_logits_only_by_the_donor() -> None:
    p, k = 11, 3
    frequencies = [1] * 6 + [2] * 2 + [3] * 4 + [4] * 4 + [5] * 4  # mean 4; frequency 2 short
    params = _cosines(p, k, frequencies, seed=1)
    light = 0  # make a neuron of frequency 1 nearly dead: the free slot
    params["U"][light] *= 1e-3
    params["W"][light] *= 1e-3
    inputs = torch.tensor(np.indices((p,) * k).reshape(k, -1).T.copy())
    batch = model.make_batch(inputs.numpy(), p, device=torch.device("cpu"))
    g = torch.Generator().manual_seed(0)
    # one birth per short frequency per check: first into the dead neuron, then, no slot being
    # free, into the lightest neuron of crowded frequency 1
    for expected in ([5, 3, 4, 4, 4], [4, 4, 4, 4, 4]):
        old = {n: x.clone() for n, x in params.items()}
        assert rebalance.rebalance(params, _moments(params), split_noise=0.0, generator=g) == 1
        assert _counts(params, p, k).tolist() == expected
        changed = torch.nonzero((params["U"] != old["U"]).flatten(1).any(1)).flatten().tolist()
        assert len(changed) == 2  # the split neuron of frequency 2 and the donor
        # the donor is the one that was not of frequency 2 (its old DFT peak was elsewhere)
        peaks = [int(torch.fft.rfft(old["W"][i]).abs()[1:].argmax()) + 1 for i in changed]
        donor = changed[peaks.index(next(f for f in peaks if f != 2))]
        lost = model.logits(old["U"][donor : donor + 1], old["W"][donor : donor + 1], batch)
        expected_logits = model.logits(old["U"], old["W"], batch) - lost
        after = model.logits(params["U"], params["W"], batch)
        # a noiseless split leaves the function unchanged (two halves of 2^(-1/(k+1)) each):
        # the logits lose exactly the donor's old contribution
        assert torch.allclose(after, expected_logits, atol=1e-12)
    assert rebalance.rebalance(params, _moments(params), split_noise=0.0, generator=g) == 0


def test_balanced_or_unformed_networks_are_left_alone() -> None:
    p, k = 11, 2
    params = _cosines(p, k, [1, 2, 3, 4, 5] * 4, seed=2)
    copy = {n: x.clone() for n, x in params.items()}
    g = torch.Generator().manual_seed(0)
    assert rebalance.rebalance(params, _moments(params), split_noise=0.1, generator=g) == 0
    assert all(torch.equal(params[n], copy[n]) for n in params)
    # random weights: the spectra have not formed, no frequency is trusted
    noise = {"U": torch.randn(20, k, p, generator=g), "W": torch.randn(20, p, generator=g)}
    saved = {n: x.clone() for n, x in noise.items()}
    assert rebalance.rebalance(noise, _moments(noise), split_noise=0.1, generator=g) == 0
    assert all(torch.equal(noise[n], saved[n]) for n in noise)


def test_training_with_and_without_rebalancing_differs_and_is_deterministic() -> None:
    # Adam to the end at lr 0.01, as measured (with L-BFGS both runs are at 1 - 1e-8 by step 1500)
    common = {"p": 11, "k": 2, "seed": 0, "steps": 1500, "target_ratio": None}
    common |= {"lbfgs": False, "lr": 0.01}
    on = train(TrainConfig(**common))
    again = train(TrainConfig(**common))
    off = train(TrainConfig(**common, rebalance=False))
    assert np.array_equal(on.net.U, again.net.U)
    assert not np.array_equal(on.net.U, off.net.U)
    # measured: 0.982 against 0.947 at step 1500
    assert on.final.margin_ratio > off.final.margin_ratio


@pytest.mark.parametrize("value", [1, "yes", None])
def test_rebalance_must_be_a_bool(value: object) -> None:
    with pytest.raises(FourierCircuitsError, match="rebalance="):
        TrainConfig(p=11, k=2, rebalance=value)  # type: ignore[arg-type]
