"""The figure of constructions.peers_compare: margin ratio (normalized margin / gamma*) against
neurons per frequency for every design, one panel per table (matplotlib's object interface, Agg,
PNG written atomically through experiments.plots.save_figure).

gromov is a line over its widths (the mean over seeds, the band from the smallest to the largest
seed's ratio); each fixed design is one marker, filled when it is a construction claimed to reach
gamma* (paper, grid3, lattice, weighted, cogo6) and open when it is a peer measured.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure

from fourier_circuits.constructions.peers_compare import PeerTable
from fourier_circuits.experiments.plots import save_figure

_MARKERS = {
    "paper": "s",
    "grid3": "D",
    "lattice": "o",
    "weighted": "P",
    "cogo4": "v",
    "cogo6": "^",
    "morwani-dense": "X",
}


def peers_figure(tables: Sequence[PeerTable]) -> Figure:
    """One panel per table: margin ratio against neurons per frequency (log axis)."""
    fig = Figure(figsize=(6.4 * len(tables), 4.6))
    for index, table in enumerate(tables):
        ax = fig.add_subplot(1, len(tables), index + 1)
        summary = table.summary()
        line = [s for s in summary if s["design"] == "gromov"]
        if line:
            x = [s["neurons_per_frequency"] for s in line]
            ax.fill_between(
                x,
                [s["margin_ratio_min"] for s in line],
                [s["margin_ratio_max"] for s in line],
                color="tab:gray",
                alpha=0.25,
                linewidth=0,
            )
            ax.plot(
                x,
                [s["margin_ratio"] for s in line],
                "-o",
                color="tab:gray",
                markersize=4,
                label=f"gromov (random phases, {line[0]['seeds']} seeds)",
            )
        for s in summary:
            if s["design"] == "gromov":
                continue
            claimed = s["claim"] == "max_margin"
            ax.plot(
                [s["neurons_per_frequency"]],
                [s["margin_ratio"]],
                _MARKERS.get(s["design"], "*"),
                markersize=9,
                markerfacecolor=None if claimed else "none",
                label=f"{s['design']} ({s['neurons_per_frequency']:.3g}/freq.)",
            )
        ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
        ax.axhline(0.0, color="black", linewidth=0.5)
        ax.set_xscale("log")
        ax.set_xlabel("neurons per frequency, width / ((p-1)/2)")
        ax.set_ylabel("normalized margin / gamma*")
        ax.set_title(f"p = {table.p}, k = {table.k}: margin ratio against neurons per frequency")
        ax.legend(fontsize=7, loc="lower right")
        ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    return fig


def save_peers_figure(tables: Sequence[PeerTable], target: Path) -> Path:
    """peers_figure(tables) as PNG at target (atomic)."""
    return save_figure(peers_figure(tables), target)
