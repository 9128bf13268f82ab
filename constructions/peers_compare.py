"""Every design side by side: the toolkit's phase designs, a weighted design and the peer
constructions of the literature (constructions.peers), each measured over all of D_p.

    from fourier_circuits.constructions.peers_compare import compare_peers
    table = compare_peers(31, 2, widths=(15, 60, 240), seeds=(0, 1))
    table.rows[0].margin_ratio, table.markdown()

Per row (constructions.peers_check.measure_network): accuracy over all of D_p, normalized margin /
gamma*, the share of single-frequency neurons, and the neurons per frequency, width / ((p-1)/2),
the figure's abscissa. Designs: paper, grid3, lattice (every k); for k = 2 also `weighted`
(lattice and grid3 on Z_6^2 with weights 2 and 1/2: 15 points, 12 distinct after merging,
docs/min-width.md), cogo4, cogo6 and morwani-dense; gromov at each width and seed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fourier_circuits.constructions.analytic import construct
from fourier_circuits.constructions.designs import DESIGNS, PhaseDesign, get_design
from fourier_circuits.constructions.peers import PEERS, build_peer
from fourier_circuits.constructions.peers_check import measure_network
from fourier_circuits.theory import (
    FourierCircuitsError,
    PolyNet,
    Task,
    check_int,
    check_seed,
    jsonable,
)
from fourier_circuits.theory.evaluation import require_evaluation

#: The claim of each design: a construction claimed to reach gamma*, or a peer measured.
CLAIMS = {name: "max_margin" for name in (*DESIGNS, "weighted")} | {
    name: peer.claim for name, peer in PEERS.items()
}


@dataclass(frozen=True)
class PeerRow:
    """One network: design, its claim, width, neurons per frequency, seed (gromov) and what was
    measured over D_p."""

    design: str
    claim: str
    width: int
    neurons_per_frequency: float
    seed: int | None
    accuracy: float
    margin_ratio: float
    single_frequency_share: float
    seconds: float


@dataclass(frozen=True)
class PeerTable:
    """compare_peers's rows at (p, k), in the order measured."""

    p: int
    k: int
    rows: tuple[PeerRow, ...]

    def as_dict(self) -> dict[str, Any]:
        rows = [{name: getattr(r, name) for name in r.__dataclass_fields__} for r in self.rows]
        return dict(jsonable({"p": self.p, "k": self.k, "rows": rows}))

    def summary(self) -> list[dict[str, Any]]:
        """One entry per (design, width): the mean and range over seeds."""
        groups: dict[tuple[str, int], list[PeerRow]] = {}
        for r in self.rows:
            groups.setdefault((r.design, r.width), []).append(r)
        out = []
        for (design, width), rows in groups.items():
            acc = np.array([r.accuracy for r in rows])
            ratio = np.array([r.margin_ratio for r in rows])
            share = np.array([r.single_frequency_share for r in rows])
            out.append(
                {
                    "design": design,
                    "claim": rows[0].claim,
                    "width": width,
                    "neurons_per_frequency": rows[0].neurons_per_frequency,
                    "seeds": len(rows),
                    "accuracy": float(acc.mean()),
                    "accuracy_min": float(acc.min()),
                    "margin_ratio": float(ratio.mean()),
                    "margin_ratio_min": float(ratio.min()),
                    "margin_ratio_max": float(ratio.max()),
                    "single_frequency_share": float(share.mean()),
                }
            )
        return out

    def markdown(self) -> str:
        """The summary as a Markdown table (accuracy in %, ratio with its range over seeds)."""
        lines = [
            "| design | claim | width | neurons / frequency | seeds | accuracy over D_p | "
            "margin / gamma* (min..max) | single-frequency share |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for s in self.summary():
            spread = (
                f" ({s['margin_ratio_min']:.3f}..{s['margin_ratio_max']:.3f})"
                if s["seeds"] > 1
                else ""
            )
            lines.append(
                f"| {s['design']} | {s['claim']} | {s['width']} | "
                f"{s['neurons_per_frequency']:.4g} | {s['seeds']} | {100 * s['accuracy']:.2f}% | "
                f"{s['margin_ratio']:.4f}{spread} | {s['single_frequency_share']:.3g} |"
            )
        return "\n".join(lines) + "\n"


def weighted_design_network(p: int) -> PolyNet:
    """The weighted design of docs/min-width.md (k = 2): the lattice's 6 points (weight 2) and
    grid3's 9 (weight 1/2) on Z_6^2, through constructions.min_width.weighted_network."""
    from fourier_circuits.constructions.min_width import weighted_network  # imports cvxpy

    lattice, grid3 = get_design("lattice", 2), get_design("grid3", 2)
    points = lattice.points + tuple(tuple(2 * c for c in pt) for pt in grid3.points)
    weights = np.r_[np.full(6, 2.0), np.full(9, 0.5)]
    return weighted_network(p, PhaseDesign("weighted", 6, points), weights)


def designs_for(k: int) -> tuple[str, ...]:
    """The fixed-width designs compared at k (module docstring)."""
    fixed = tuple(DESIGNS)
    if k == 2:
        fixed += ("weighted", "cogo4", "cogo6", "morwani-dense")
    return fixed


def _network(p: int, k: int, design: str, width: int | None, seed: int | None) -> PolyNet:
    if design in DESIGNS:
        return construct(p, k, design)
    if design == "weighted":
        return weighted_design_network(p)
    return build_peer(p, k, design, width=width, seed=seed)


def compare_peers(
    p: int,
    k: int,
    widths: Iterable[int] = (),
    seeds: Sequence[int] = (0,),
    *,
    designs: Iterable[str] | None = None,
) -> PeerTable:
    """Measure every design (default designs_for(k)) at (p, k) and gromov at each width and
    seed; every pass over D_p is refused up front (theory.evaluation) before any is made."""
    task = Task(p, k)
    chosen = designs_for(task.k) if designs is None else tuple(designs)
    for d in chosen:
        if d not in CLAIMS or d == "gromov" or (d not in DESIGNS and task.k != 2):
            raise FourierCircuitsError(
                f"design {d!r} cannot be compared at k={task.k}; choose from "
                f"{list(designs_for(task.k))} (gromov comes from widths)"
            )
    ws = [check_int("width", w, min_value=1) for w in widths]
    ss = [check_seed(s) for s in seeds]
    if ws and not ss:
        raise FourierCircuitsError("seeds must name at least one seed for the gromov rows")
    jobs: list[tuple[str, int | None, int | None]] = [(d, None, None) for d in chosen]
    jobs += [("gromov", w, s) for w in ws for s in ss]
    h = (task.p - 1) // 2
    for d, w, _ in jobs:  # every pass refused before the first is made
        if w is not None:
            require_evaluation(w, task.k, task.p)
        elif d in PEERS:
            fixed = PEERS[d].fixed_width
            assert fixed is not None
            require_evaluation(fixed(task.p, task.k), task.k, task.p)
        else:
            size = 15 if d == "weighted" else len(get_design(d, task.k).points)
            require_evaluation(size * h, task.k, task.p)
    rows = []
    for d, w, s in jobs:
        start = time.perf_counter()
        m = measure_network(_network(task.p, task.k, d, w, s))
        rows.append(
            PeerRow(
                design=d,
                claim=CLAIMS[d],
                width=m.width,
                neurons_per_frequency=m.neurons_per_frequency,
                seed=s,
                accuracy=m.accuracy,
                margin_ratio=m.margin_ratio,
                single_frequency_share=m.single_frequency_share,
                seconds=time.perf_counter() - start,
            )
        )
    return PeerTable(task.p, task.k, tuple(rows))
