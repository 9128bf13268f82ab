"""Frequency rebalancing for the "margin" optimiser: frequencies short of neurons get more.

Why. A max-margin network is, at each frequency, a weighted design of single-frequency neurons
(docs/min-width.md), and a design needs at least B_k neurons per frequency (6, 16, 40 for
k = 2, 3, 4, proved there). The paper's width 2^(2k-2)(p-1) gives 2^(2k-1) neurons per frequency
on average (8, 32, 128), but a random initialisation spreads them unevenly, and descent keeps the
share each frequency starts with: measured at (61, 2), seed 0, default settings, the counts of
active neurons per frequency at step 1500 ran from 2 to 9, and the margin ratio stopped at 0.92
(4800 steps); at (101, 2) a frequency lost its last neuron. Birth-death (methods.MarginMethod:
the lightest neuron onto the heaviest) moves mass, not neurons per frequency, and cannot refill
an empty frequency.

What. Every `split_every` steps (birth-death stops at the hand-over to L-BFGS and at
`split_until`; this goes on, since a frequency can fall short late, but after the hand-over only
for frequencies below lbfgs_rebalance_target), once the neurons' spectra have formed (median
maximum normalized power >= SPECTRA_FORMED; before that a neuron's dominant frequency means
little):
- each neuron's dominant frequency (one real DFT of U and W) and mass ||theta_i||^(k+1); a neuron
  is active when its mass is at least ACTIVE_SHARE of the mean; counts[f] = active neurons of f;
- the target is the mean count m // ((p-1)/2) (after the hand-over: at most
  lbfgs_rebalance_target), never below 1;
- for each frequency below it, fewest first: a donor slot, the lightest neuron lighter than
  LIGHT_SHARE of the mean (not yet used in this round), or else the lightest active neuron of the
  frequency with the most neurons while that one has more than the target; the donor becomes a
  split of the short frequency's heaviest neuron (both halves scaled by 2^(-1/(k+1)) plus the
  SPLIT_NOISE perturbation of birth-death: the logits change only by the donor's small
  contribution), or, where the frequency has no active neuron, a single cosine of that frequency
  with random phases phi_1..phi_k and output phase phi_1 + ... + phi_k (the phase-sum rule of
  THEORY.md; the network still has to find a design) at BORN_SCALE of the median neuron norm.
The check costs one DFT of the weights; it uses the method's generator, so runs stay
deterministic, and keeps no state of its own (a resumed run continues exactly).

Measured (float64, one thread, steps, default settings otherwise): (61, 2) seed 0 reaches margin
ratio 0.99 at 3250 steps (every frequency exactly 8 active neurons from step 1800) against a
plateau at 0.92 without it; docs/training.md has the rest.
"""

from __future__ import annotations

import math

import torch

from fourier_circuits.constructions.designs import comb_size
from fourier_circuits.constructions.training.model import neuron_norms_sq

#: Median maximum normalized power of the neurons from which dominant frequencies are trusted.
SPECTRA_FORMED = 0.9
#: A neuron counts for its frequency when its mass is at least this share of the mean mass.
ACTIVE_SHARE = 0.01
#: A neuron lighter than this share of the mean is a free slot for a birth.
LIGHT_SHARE = 0.1
#: A neuron born at an empty frequency has this share of the median neuron norm.
BORN_SCALE = 0.3
#: After the hand-over to L-BFGS, rebalancing acts only on frequencies with fewer active neurons
#: than this many times the smallest design (lbfgs_rebalance_target).
LBFGS_DESIGN_SLACK = 1.5


def dominant_frequencies(U: torch.Tensor, W: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(the dominant frequency index 0..(p-1)/2 - 1 of each neuron, i.e. frequency index + 1,
    and each neuron's maximum normalized power) from the one-sided power of U and W."""
    power = torch.fft.rfft(U, dim=2).abs().pow(2).sum(1) + torch.fft.rfft(W, dim=1).abs().pow(2)
    power = power[:, 1:]  # frequencies 1 .. (p-1)/2; the constant term is not a frequency
    total = power.sum(1).clamp_min(torch.finfo(power.dtype).tiny)
    top = power.max(1)
    return top.indices, top.values / total


def lbfgs_rebalance_target(k: int) -> int:
    """Active neurons per frequency below which rebalancing still acts after the hand-over to
    L-BFGS: LBFGS_DESIGN_SLACK times the comb design's (k+1) 2^(k-1) points, the fewest a frequency
    can reach gamma* with for k <= 4 (docs/min-width.md), 24 and 60 for k = 3, 4 (the mean count is
    8, 32, 128 for k = 2, 3, 4 at the paper's width, and the target never exceeds it). Why not the
    mean: each birth dips the ratio and resets the curvature model; at (13, 4), with H_0 = gamma I,
    the neurons per frequency fell to 44-56 in the L-BFGS phase and the check made six births every
    100 steps (a plateau at 0.95), and with the per-neuron H_0 but this target the mean, 0.973 at
    step 1350 against 0.982 with it; why not fewer: at (101, 2) with a target of 4 the ratio stopped
    at 0.96, frequencies left with 4-5 neurons, fewer than a design needs."""
    return math.ceil(LBFGS_DESIGN_SLACK * comb_size(k))


def rebalance(
    params: dict[str, torch.Tensor],
    moments: dict[str, tuple[torch.Tensor, torch.Tensor]],
    *,
    split_noise: float,
    generator: torch.Generator,
    target: int | None = None,
) -> int:
    """One rebalancing check (module docstring) on params {"U": (m, k, p), "W": (m, p)} in place,
    Adam's `moments` moved with them; the number of neurons born. Frequencies with fewer active
    neurons than `target` (default: the mean count) get one each. The caller projects back to the
    sphere."""
    U, W = params["U"], params["W"]
    m, k, p = U.shape
    n_freq = (p - 1) // 2
    dom, concentration = dominant_frequencies(U, W)
    if float(concentration.median()) < SPECTRA_FORMED:
        return 0
    norms_sq = neuron_norms_sq(U, W)
    mass = norms_sq.pow((k + 1) / 2)
    mean = float(mass.mean())
    active = mass >= ACTIVE_SHARE * mean
    counts = torch.bincount(dom[active], minlength=n_freq)
    target = max(m // n_freq if target is None else min(target, m // n_freq), 1)
    short = [int(f) for f in torch.argsort(counts, stable=True) if counts[f] < target]
    if not short:
        return 0
    free = [int(i) for i in torch.argsort(mass, stable=True) if mass[i] < LIGHT_SHARE * mean]
    used: set[int] = set()
    median_norm = float(norms_sq.median().sqrt())
    born = 0
    for f in short:
        donor = next((i for i in free if i not in used), None)
        if donor is None:
            rich = int(counts.argmax())
            if counts[rich] <= target:
                break
            members = [i for i in _members(dom, active, rich) if i not in used]
            if not members:
                break
            donor = min(members, key=lambda i: float(mass[i]))
            counts[rich] -= 1
        used.add(donor)
        counts[f] += 1
        members = [i for i in _members(dom, active, f) if i not in used]
        if members:
            heavy = max(members, key=lambda i: float(mass[i]))
            used.add(heavy)
            split_into(params, moments, heavy, donor, k, split_noise, generator)
        else:
            _born(params, moments, donor, f + 1, median_norm, generator)
        born += 1
    return born


def _members(dom: torch.Tensor, active: torch.Tensor, f: int) -> list[int]:
    return [int(i) for i in torch.nonzero((dom == f) & active).flatten()]


def split_into(
    params: dict[str, torch.Tensor],
    moments: dict[str, tuple[torch.Tensor, torch.Tensor]],
    heavy: int,
    donor: int,
    k: int,
    split_noise: float,
    generator: torch.Generator,
) -> None:
    """Neuron `heavy` split into itself and `donor`: both halves scaled by 2^(-1/(k+1)) (the logits
    keep heavy's part), donor perturbed by split_noise, Adam's moments copied (birth-death's split,
    MarginMethod._split, and rebalancing's)."""
    half = 2.0 ** (-1.0 / (k + 1))
    for name, x in params.items():
        x[heavy] *= half
        noise = torch.randn(x[heavy].shape, generator=generator, dtype=torch.float64)
        size = split_noise * float(x[heavy].norm()) / math.sqrt(x[heavy].numel())
        x[donor] = x[heavy] + size * noise.to(x.device, x.dtype)
        for moment in moments[name]:
            moment[donor] = moment[heavy]


def _born(
    params: dict[str, torch.Tensor],
    moments: dict[str, tuple[torch.Tensor, torch.Tensor]],
    donor: int,
    frequency: int,
    median_norm: float,
    generator: torch.Generator,
) -> None:
    """Neuron `donor` reborn as a single cosine of `frequency` obeying the phase-sum rule."""
    U, W = params["U"], params["W"]
    k, p = int(U.shape[1]), int(U.shape[2])
    phases = torch.rand(k + 1, generator=generator, dtype=torch.float64) * (2 * math.pi)
    phases[k] = phases[:k].sum()
    angle = 2 * math.pi * frequency * torch.arange(p, dtype=torch.float64) / p
    rows = torch.cos(angle[None, :] + phases[:, None])  # (k + 1, p)
    rows *= BORN_SCALE * median_norm / float(rows.norm())
    U[donor] = rows[:k].to(U.device, U.dtype)
    W[donor] = rows[k].to(W.device, W.dtype)
    for name in ("U", "W"):
        for moment in moments[name]:
            moment[donor] = 0
