"""Figures of a training run (matplotlib, Agg backend, PNG), each written atomically.

- margin_ratio.png: normalized margin / gamma* over training, with gamma* (ratio 1) and the
  claimed 0.99 as reference lines (Theorem 4.1 (i));
- power_heatmap.png: neurons x frequencies, each neuron's share of Fourier power per frequency
  (one-sided, +-zeta folded, summed over its k+1 vectors) at initialisation and at the end;
- neuron_cosines.png: the heaviest neurons' weights u_1..u_k, w against a, with the fitted
  cosines A cos(phi + 2 pi zeta a / p) (the paper's Fig. 1; Theorem 4.1 (ii));
- neurons_per_frequency.png: active neurons per dominant frequency, trained and analytic.
save_network_plots draws the last three for any saved network (`fourier-circuits inspect`).
Uses matplotlib's object interface (Figure + FigureCanvasAgg), not pyplot: no global state.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from fourier_circuits.experiments.outputs import write_atomic
from fourier_circuits.theory import PolyNet, neuron_spectra
from fourier_circuits.theory.tolerances import MARGIN_RATIO_CLAIM

if TYPE_CHECKING:  # torch loads only where training runs
    from fourier_circuits.constructions.trained import TrainResult

#: The analytic construction is built beside a trained network (neurons_per_frequency.png, the
#: comparison of `train`) only while p^k is at most this.
ANALYTIC_MAX_EXAMPLES = 10**6

#: How many neurons neuron_cosines.png shows.
COSINE_NEURONS = 4


def save_figure(fig: Figure, target: Path) -> Path:
    """Write fig as PNG to target atomically."""
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    return write_atomic(target, buffer.getvalue())


def margin_ratio_figure(result: TrainResult) -> Figure:
    steps = [r.step for r in result.history]
    ratio = [r.margin_ratio for r in result.history]
    fig = Figure(figsize=(6.4, 4.0))
    ax = fig.add_subplot()
    ax.plot(steps, ratio, label="normalized margin / gamma* (all of D_p)")
    ax.plot(
        steps,
        [r.class_weighted_ratio for r in result.history],
        linestyle="--",
        label="class-weighted margin / gamma*",
    )
    if result.config.train_fraction < 1:
        ax.plot(steps, [r.train_margin_ratio for r in result.history], label="training part")
    ax.axhline(1.0, color="black", linewidth=1, label="gamma* (Theorem 4.1)")
    ax.axhline(MARGIN_RATIO_CLAIM, color="grey", linewidth=1, linestyle=":", label="claim")
    ax.set_ylim(max(min(ratio), -0.25), 1.05)
    ax.set_xlabel("step")
    ax.set_ylabel("ratio to gamma*")
    cfg = result.config
    ax.set_title(f"p={cfg.p}, k={cfg.k}, m={cfg.width}, {cfg.optimizer}, seed {cfg.seed}")
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    return fig


def _power_shares(net: PolyNet) -> tuple[np.ndarray, np.ndarray]:
    """(m, (p+1)/2) each neuron's share of power per frequency, and its dominant frequency."""
    spectra = neuron_spectra(net)
    power = spectra.power.sum(axis=1)  # (m, h+1) summed over the k+1 vectors
    total = power.sum(axis=1, keepdims=True)
    return np.divide(power, total, out=np.zeros_like(power), where=total > 0), spectra.dominant


def power_heatmap_figure(result: TrainResult) -> Figure:
    final, dominant = _power_shares(result.net)
    start, _ = _power_shares(result.initial)
    order = np.argsort(dominant, kind="stable")  # neurons grouped by final frequency
    fig = Figure(figsize=(8.0, 4.8))
    axes = fig.subplots(1, 2, sharey=True)
    for ax, shares, title in ((axes[0], start, "initialisation"), (axes[1], final, "end")):
        image = ax.imshow(shares[order], aspect="auto", interpolation="nearest", vmin=0, vmax=1)
        ax.set_title(title)
        ax.set_xlabel("frequency zeta (0 = constant)")
    axes[0].set_ylabel("neuron (sorted by final dominant frequency)")
    fig.suptitle("each neuron's share of Fourier power per frequency (u_1..u_k and w)")
    fig.colorbar(image, ax=list(axes), shrink=0.8)
    return fig


def neuron_cosines_figure(result: TrainResult) -> Figure:
    return network_cosines_figure(result.net)


def network_cosines_figure(net: PolyNet) -> Figure:
    """The heaviest neurons' weights u_1..u_k, w against a, with their fitted cosines."""
    spectra = neuron_spectra(net)
    chosen = np.argsort(-spectra.norms, kind="stable")[:COSINE_NEURONS]
    a = np.arange(net.p)
    grid = np.linspace(0, net.p - 1, 200)
    names = [f"u_{j + 1}" for j in range(net.k)] + ["w"]
    vectors = np.concatenate([net.U, net.W[:, None, :]], axis=1)  # (m, k+1, p)
    fig = Figure(figsize=(3.2 * len(chosen), 3.2))
    axes = np.atleast_1d(fig.subplots(1, len(chosen)))
    for ax, i in zip(axes, chosen, strict=True):
        zeta = int(spectra.dominant[i])
        for v, name in enumerate(names):
            (line,) = ax.plot(a, vectors[i, v], "o", markersize=3, label=name)
            amp, phi = spectra.amplitudes[i, v], spectra.phases[i, v]
            # A cos(phi + 2 pi zeta a / p), the cosine with the neuron's DFT coefficient at zeta
            fitted = amp * np.cos(phi + 2 * np.pi * zeta * grid / net.p) if zeta else 0 * grid
            ax.plot(grid, fitted, color=line.get_color(), linewidth=1)
        ax.set_title(
            f"neuron {i}: zeta={zeta}, power {spectra.max_normalized_power[i]:.3f}",
            fontsize="small",
        )
        ax.set_xlabel("a")
    axes[0].legend(fontsize="x-small")
    fig.tight_layout()
    return fig


def neurons_per_frequency_figure(result: TrainResult, analytic: PolyNet | None) -> Figure:
    final = result.final
    h = (result.config.p - 1) // 2
    zetas = np.arange(1, h + 1)
    fig = Figure(figsize=(6.4, 3.6))
    ax = fig.add_subplot()
    counts = np.array(final.neurons_per_frequency[1:])
    ax.bar(zetas - 0.2, counts, width=0.4, label=f"trained (m={result.config.width})")
    if analytic is not None:
        shares = neuron_spectra(analytic).dominant
        ax.bar(
            zetas + 0.2,
            np.bincount(shares, minlength=h + 1)[1:],
            width=0.4,
            label=f"analytic (m={analytic.m})",
        )
    ax.set_xticks(zetas)
    ax.set_xlabel("frequency zeta")
    ax.set_ylabel("active neurons")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def network_power_figure(net: PolyNet) -> Figure:
    """Neurons x frequencies: each neuron's share of Fourier power per frequency (one panel)."""
    shares, dominant = _power_shares(net)
    order = np.argsort(dominant, kind="stable")
    fig = Figure(figsize=(5.6, 4.8))
    ax = fig.add_subplot()
    image = ax.imshow(shares[order], aspect="auto", interpolation="nearest", vmin=0, vmax=1)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("frequency zeta (0 = constant)")
    ax.set_ylabel("neuron (sorted by dominant frequency)")
    ax.set_title(f"share of Fourier power, p={net.p}, k={net.k}, m={net.m}", fontsize="small")
    fig.colorbar(image, ax=ax, shrink=0.8)
    return fig


def network_frequency_figure(net: PolyNet) -> Figure:
    """Active neurons per dominant frequency 1..(p-1)/2 (Theorem 4.1 (iii): none is empty)."""
    spectra = neuron_spectra(net)
    h = (net.p - 1) // 2
    zetas = np.arange(1, h + 1)
    counts = np.bincount(spectra.dominant[spectra.active], minlength=h + 1)[1:]
    fig = Figure(figsize=(6.4, 3.6))
    ax = fig.add_subplot()
    ax.bar(zetas, counts, width=0.6, label=f"active neurons (m={net.m})")
    ax.set_xticks(zetas)
    ax.set_xlabel("frequency zeta")
    ax.set_ylabel("active neurons")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def save_network_plots(net: PolyNet, directory: Path) -> list[Path]:
    """Write power_heatmap.png, neuron_cosines.png and neurons_per_frequency.png of one network
    (no training history needed) into `directory`, each atomically; returns their paths."""
    figures: list[tuple[str, Callable[[], Figure]]] = [
        ("power_heatmap.png", lambda: network_power_figure(net)),
        ("neuron_cosines.png", lambda: network_cosines_figure(net)),
        ("neurons_per_frequency.png", lambda: network_frequency_figure(net)),
    ]
    return [save_figure(make(), directory / name) for name, make in figures]


def save_training_plots(
    result: TrainResult, directory: Path, *, analytic: PolyNet | None = None
) -> list[Path]:
    """Write the four figures of the module docstring into `directory`; returns their paths."""
    figures: list[tuple[str, Callable[[], Figure]]] = [
        ("margin_ratio.png", lambda: margin_ratio_figure(result)),
        ("power_heatmap.png", lambda: power_heatmap_figure(result)),
        ("neuron_cosines.png", lambda: neuron_cosines_figure(result)),
        ("neurons_per_frequency.png", lambda: neurons_per_frequency_figure(result, analytic)),
    ]
    return [save_figure(make(), directory / name) for name, make in figures]
