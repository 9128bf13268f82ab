"""Figures of a TransformerLens model's analysis (constructions.foreign.analyse_lens), the kind
arXiv 2402.09469 (Fig. 3) and Nanda et al. (arXiv 2301.05217) show; matplotlib is imported inside
the functions (Agg, PNG, written atomically by experiments.plots.save_figure).

- lens_attention.png: for up to PLOTTED_HEADS heads (strongest first), the number-number score
  matrix M_h[a, b] (token part) and its 2-D power spectrum (frequencies -h..h, DC hidden), then
  the '=' query's scores against the number keys S_h[t, b] (one row per position t) and their
  1-D spectra;
- lens_embedding.png: the number embeddings' power per frequency (Nanda's Fourier norms squared),
  the key frequencies marked;
- lens_neurons.png: the MLP neurons' strongest frequency, single-frequency neurons (> 85% of
  their variance) apart from the rest, and the logits' variance share per frequency.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fourier_circuits.constructions.foreign import LensAnalysis

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: How many heads lens_attention.png shows.
PLOTTED_HEADS = 4


def attention_figure(analysis: LensAnalysis) -> Figure:
    from matplotlib.figure import Figure

    p, k = analysis.p, analysis.k
    h = (p - 1) // 2
    power = [float((np.abs(np.fft.fft2(M)) ** 2).sum()) for M in analysis.qk_matrices]
    chosen = np.argsort(-np.array(power), kind="stable")[:PLOTTED_HEADS]
    fig = Figure(figsize=(2.9 * len(chosen), 10.0))
    axes = np.asarray(fig.subplots(4, len(chosen), squeeze=False))
    lo, hi = -h - 0.5, h + 0.5  # the signed frequencies -h..h
    for column, head in enumerate(chosen):
        M = analysis.qk_matrices[head]
        limit = float(np.abs(M).max()) or 1.0
        axes[0, column].imshow(M, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
        axes[0, column].set_title(f"head {head}: number-number scores", fontsize="small")
        axes[0, column].set_xlabel("key token b")
        axes[0, column].set_ylabel("query token a")
        spectrum = np.fft.fftshift(np.abs(np.fft.fft2(M)) ** 2)
        spectrum[h, h] = np.nan  # the DC term: a constant, which softmax ignores
        axes[1, column].imshow(spectrum, interpolation="nearest", extent=(lo, hi, hi, lo))
        axes[1, column].set_title(
            f"2-D power, C = {analysis.head_concentrations[head]:.2f}", fontsize="small"
        )
        axes[1, column].set_xlabel("j2 (key)")
        axes[1, column].set_ylabel("j1 (query)")
        S = analysis.eq_scores[head]  # (k, p)
        limit = float(np.abs(S - S.mean(axis=1, keepdims=True)).max()) or 1.0
        axes[2, column].imshow(
            S - S.mean(axis=1, keepdims=True), cmap="RdBu_r", vmin=-limit, vmax=limit,
            aspect="auto", interpolation="nearest",
        )  # fmt: skip
        axes[2, column].set_title("'=' query vs number keys (centred)", fontsize="small")
        axes[2, column].set_xlabel("key number b")
        axes[2, column].set_ylabel("key position t")
        axes[2, column].set_yticks(range(k))
        one_sided = np.abs(np.fft.fft(S, axis=1)[:, 1 : h + 1]) ** 2
        for t in range(k):
            axes[3, column].plot(np.arange(1, h + 1), one_sided[t], marker=".", label=f"t={t}")
        axes[3, column].set_xlabel("frequency")
        axes[3, column].set_title("1-D power of the '=' rows", fontsize="small")
        axes[3, column].legend(fontsize="x-small")
    fig.suptitle(
        f"attention through the embeddings (p={p}, k={k}); concentration "
        f"{analysis.attention_fourier_concentration:.2f} vs noise q99 "
        f"{analysis.noise_concentration_q99:.2f}"
    )
    fig.tight_layout()
    return fig


def embedding_figure(analysis: LensAnalysis) -> Figure:
    from matplotlib.figure import Figure

    power = analysis.embedding_power
    zetas = np.arange(len(power))
    fig = Figure(figsize=(6.4, 3.6))
    ax = fig.add_subplot()
    colors = ["C1" if z in analysis.key_frequencies else "C0" for z in zetas]
    ax.bar(zetas, np.sqrt(power), color=colors)
    ax.set_xlabel("frequency (0 = constant; orange: key frequencies)")
    ax.set_ylabel("Fourier norm of W_E's number rows")
    ax.set_title(f"embedding Fourier norms, p={analysis.p}", fontsize="small")
    fig.tight_layout()
    return fig


def neurons_figure(analysis: LensAnalysis) -> Figure:
    from matplotlib.figure import Figure

    h = (analysis.p - 1) // 2
    zetas = np.arange(1, h + 1)
    frequencies = np.array(analysis.neuron_frequencies, dtype=np.int64)
    single = np.array(analysis.single_frequency, dtype=bool)
    fig = Figure(figsize=(9.6, 3.6))
    left, right = fig.subplots(1, 2)
    counts_single = [int(np.sum((frequencies == z) & single)) for z in zetas]
    counts_other = [int(np.sum((frequencies == z) & ~single)) for z in zetas]
    left.bar(zetas, counts_single, label="> 85% one frequency")
    left.bar(zetas, counts_other, bottom=counts_single, label="other")
    left.set_xlabel("strongest frequency of the neuron")
    left.set_ylabel("neurons")
    left.set_title(
        f"single-frequency share {analysis.neuron_single_frequency_fraction:.2f}", fontsize="small"
    )
    left.legend(fontsize="small")
    colors = ["C1" if z in analysis.key_frequencies else "C0" for z in zetas]
    right.bar(zetas, analysis.logit_variance_by_frequency, color=colors)
    right.set_xlabel("frequency w (orange: key)")
    right.set_ylabel("share of the logits' variance")
    right.set_title("logits on cos/sin(2 pi w (sum a - c) / p)", fontsize="small")
    fig.tight_layout()
    return fig


def save_lens_plots(analysis: LensAnalysis, directory: Path) -> list[Path]:
    """lens_attention.png, lens_embedding.png and (with an MLP) lens_neurons.png."""
    from fourier_circuits.experiments.plots import save_figure

    written = [
        save_figure(attention_figure(analysis), directory / "lens_attention.png"),
        save_figure(embedding_figure(analysis), directory / "lens_embedding.png"),
    ]
    if analysis.model.d_mlp:
        written.append(save_figure(neurons_figure(analysis), directory / "lens_neurons.png"))
    return written
