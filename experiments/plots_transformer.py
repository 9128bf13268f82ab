"""Figures of the Transformer runs (matplotlib object interface, Agg, PNG), each written atomically
with experiments.plots.save_figure.

- accuracy.png: train and test accuracy against steps, with the 0.99 claim;
- attention_heads.png: for the strongest heads (by non-DC power), the query-key matrix M_h between
  the number tokens and its 2-D power spectrum |M_h^(j1, j2)|^2 with frequencies centred (-h..h)
  and the DC term left out (the paper's Fig. 3);
- embedding_spectrum.png: the number-token embeddings' one-sided power per frequency (index 0 DC),
  the key frequencies marked;
- grokking.png (`fourier-circuits grokking`): train and test accuracy for each k, the mean over
  seeds with the min-max band (the paper's Fig. 4).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from fourier_circuits.constructions.transformer import (
    TEST_ACCURACY_CLAIM,
    AttentionAnalysis,
    TransformerResult,
)
from fourier_circuits.experiments.plots import save_figure

#: How many heads attention_heads.png shows.
PLOTTED_HEADS = 4


def accuracy_figure(result: TransformerResult) -> Figure:
    steps = [r.step for r in result.history]
    fig = Figure(figsize=(6.4, 4.0))
    ax = fig.add_subplot()
    ax.plot(steps, [r.train_accuracy for r in result.history], label="train")
    ax.plot(steps, [r.test_accuracy for r in result.history], label="test (held out)")
    ax.axhline(TEST_ACCURACY_CLAIM, color="grey", linewidth=1, linestyle=":", label="claim")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("step")
    ax.set_ylabel("accuracy")
    cfg = result.config
    ax.set_title(f"p={cfg.p}, k={cfg.k}, {cfg.n_heads} heads, d={cfg.d_model}, seed {cfg.seed}")
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    return fig


def attention_heads_figure(analysis: AttentionAnalysis) -> Figure:
    h = (analysis.p - 1) // 2
    order = np.argsort([-s.non_dc_power for s in analysis.heads], kind="stable")
    chosen = order[:PLOTTED_HEADS]
    fig = Figure(figsize=(2.9 * len(chosen), 5.6))
    axes = np.asarray(fig.subplots(2, len(chosen), squeeze=False))
    centred = np.arange(-h, h + 1)
    for column, head in enumerate(chosen):
        spectrum = analysis.heads[head]
        top, bottom = axes[0, column], axes[1, column]
        limit = float(np.abs(analysis.matrices[head]).max()) or 1.0
        top.imshow(
            analysis.matrices[head], cmap="RdBu_r", interpolation="nearest", vmin=-limit, vmax=limit
        )
        top.set_title(f"head {head}: M[a, b]", fontsize="small")
        top.set_xlabel("key token b")
        top.set_ylabel("query token a")
        # fft2 index j mod p -> signed -h..h on both axes, then hide the DC term
        power = np.fft.fftshift(spectrum.power).copy()
        power[h, h] = np.nan
        bottom.imshow(
            power,
            interpolation="nearest",
            extent=(centred[0] - 0.5, centred[-1] + 0.5, centred[-1] + 0.5, centred[0] - 0.5),
        )
        j1, j2 = spectrum.top_frequencies[0]
        bottom.set_title(
            f"|M^|^2, C_{spectrum.n_top} = {spectrum.concentration:.2f}, top ({j1},{j2})",
            fontsize="small",
        )
        bottom.set_xlabel("j2 (key)")
        bottom.set_ylabel("j1 (query)")
    fig.suptitle("query-key matrices between number tokens and their 2-D spectra (DC hidden)")
    fig.tight_layout()
    return fig


def embedding_spectrum_figure(analysis: AttentionAnalysis) -> Figure:
    power = analysis.embedding_power
    zetas = np.arange(len(power))
    fig = Figure(figsize=(6.4, 3.6))
    ax = fig.add_subplot()
    colors = ["C1" if z in analysis.embedding_frequencies else "C0" for z in zetas]
    ax.bar(zetas, power / power.sum(), color=colors)
    ax.set_xticks(zetas)
    ax.set_xlabel("frequency zeta (0 = constant; orange: key frequencies)")
    ax.set_ylabel("share of the embeddings' power")
    fig.tight_layout()
    return fig


def save_transformer_plots(
    result: TransformerResult, analysis: AttentionAnalysis, directory: Path
) -> list[Path]:
    """accuracy.png, attention_heads.png, embedding_spectrum.png into `directory`."""
    return [
        save_figure(accuracy_figure(result), directory / "accuracy.png"),
        save_figure(attention_heads_figure(analysis), directory / "attention_heads.png"),
        save_figure(embedding_spectrum_figure(analysis), directory / "embedding_spectrum.png"),
    ]


def curve_band(
    results: Sequence[TransformerResult], attribute: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(steps, mean, min, max) of train_accuracy or test_accuracy over runs measured at the same
    steps; a run that stopped early (at the target) holds its last value after it stopped."""
    longest = max(results, key=lambda r: len(r.history))
    steps = np.array([r.step for r in longest.history])
    curves = np.empty((len(results), len(steps)))
    for i, result in enumerate(results):
        values = [getattr(r, attribute) for r in result.history]
        curves[i, : len(values)] = values
        curves[i, len(values) :] = values[-1]
    return steps, curves.mean(axis=0), curves.min(axis=0), curves.max(axis=0)


def grokking_figure(runs: dict[tuple[int, int], list[TransformerResult]]) -> Figure:
    fig = Figure(figsize=(3.2 * len(runs), 3.4))
    axes = np.atleast_1d(fig.subplots(1, len(runs), sharey=True))
    for ax, ((p, k), results) in zip(axes, runs.items(), strict=True):
        for attribute, label in (("train_accuracy", "train"), ("test_accuracy", "test")):
            steps, mean, low, high = curve_band(results, attribute)
            (line,) = ax.plot(steps, mean, label=label)
            ax.fill_between(steps, low, high, color=line.get_color(), alpha=0.25, linewidth=0)
        ax.axhline(TEST_ACCURACY_CLAIM, color="grey", linewidth=1, linestyle=":")
        ax.set_title(f"k={k}, p={p} (p^k={p**k}), {len(results)} seeds", fontsize="small")
        ax.set_xlabel("step")
    axes[0].set_ylabel("accuracy (mean, min-max band)")
    axes[0].legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    return fig
