"""Figures of `fourier-circuits paper`'s MLP experiments (matplotlib, Agg, PNG, written atomically
by experiments.plots.save_figure); the single-cosine neurons (the paper's Fig. 1) and neurons per
frequency are experiments.plots' network_cosines_figure and network_frequency_figure.

- power_histogram_figure: the paper's histogram of each neuron's maximum normalized power
  max_zeta |u^(zeta)|^2 / sum_zeta |u^(zeta)|^2 (one-sided, +-zeta folded, over its k+1 vectors),
  at initialisation and at the end;
- monitor_figure: the cheap measurements over training (training.monitor): accuracy on the
  samples and the median maximum normalized power.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from fourier_circuits.constructions.training.monitor import POWER_THRESHOLD, MonitorRecord
from fourier_circuits.theory import PolyNet, neuron_spectra


def power_histogram_figure(initial: PolyNet, final: PolyNet) -> Figure:
    """Histograms of the active neurons' maximum normalized power, at init and at the end."""
    fig = Figure(figsize=(6.4, 3.8))
    ax = fig.add_subplot()
    bins = [i / 40 for i in range(41)]
    for net, label in ((initial, "initialisation"), (final, "end of training")):
        spectra = neuron_spectra(net)
        power = spectra.max_normalized_power[spectra.active]
        ax.hist(power, bins=bins, alpha=0.6, label=f"{label} (median {np.median(power):.3f})")
    ax.axvline(POWER_THRESHOLD, color="grey", linestyle=":", linewidth=1, label="0.9")
    ax.set_xlabel("maximum normalized power of a neuron")
    ax.set_ylabel("neurons")
    ax.set_title(f"p={final.p}, k={final.k}, m={final.m}", fontsize="small")
    ax.legend(fontsize="small", loc="upper center")
    fig.tight_layout()
    return fig


def monitor_figure(records: Sequence[MonitorRecord], title: str) -> Figure:
    """Sample accuracies and the median maximum normalized power against the step."""
    steps = [r.step for r in records]
    fig = Figure(figsize=(6.4, 3.8))
    ax = fig.add_subplot()
    ax.plot(steps, [r.train_accuracy for r in records], label="train accuracy (sample)")
    tests = [r.test_accuracy for r in records]
    if records and all(t is not None for t in tests):
        ax.plot(steps, [float(t or 0) for t in tests], label="test accuracy (sample)")
    ax.plot(
        steps,
        [r.max_normalized_power_median for r in records],
        linestyle="--",
        label="median max normalized power",
    )
    ax.axhline(0.99, color="grey", linestyle=":", linewidth=1)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("step")
    ax.set_title(title, fontsize="small")
    ax.legend(fontsize="small", loc="lower right")
    fig.tight_layout()
    return fig
