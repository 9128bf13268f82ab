"""Figures of a sweep (experiments.sweep): a phase diagram (a heatmap over two axes of the median
metric, and one of the share of seeds meeting every claim) and the metric against one axis with
its seed band (median, quartiles). matplotlib is imported inside the functions, so a sweep that
writes no figures never loads it."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fourier_circuits.experiments.outputs import write_atomic

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from fourier_circuits.experiments.sweep.cells import Plan
    from fourier_circuits.experiments.sweep.summary import Group

#: At most this many lines in the metric-vs-axis figure (one per value of the other axes).
MAX_CURVES = 8


def _save(fig: Figure, target: Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    return write_atomic(target, buffer.getvalue())


def varying_axes(plan: Plan) -> list[str]:
    """The non-seed axes with more than one value, in grid order."""
    return [a.name for a in plan.grid.axes if a.name != "seed" and len(a.values) > 1]


def _values(groups: list[Group], axis: str) -> list[Any]:
    return list(dict.fromkeys(group.axes[axis] for group in groups))


def _label(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def heatmap(
    groups: list[Group], x: str, y: str, *, what: str = "median", claim: str = "all_claims_held"
) -> Figure:
    """A phase diagram over axes x and y: each tile the groups' median metric (what="median")
    or share of seeds meeting `claim` (what="share"), written in the tile. Other varying axes
    are held at their first value (named in the title)."""
    import numpy as np
    from matplotlib.figure import Figure

    others = {k: v for k, v in groups[0].axes.items() if k not in (x, y)}
    chosen = [g for g in groups if all(g.axes[k] == v for k, v in others.items())]
    xs, ys = _values(chosen, x), _values(chosen, y)
    grid = np.full((len(ys), len(xs)), np.nan)
    for group in chosen:
        value = group.metric["median"] if what == "median" else group.claims[claim]["share"]
        if value is not None:
            grid[ys.index(group.axes[y]), xs.index(group.axes[x])] = value
    fig = Figure(figsize=(1.2 + 0.9 * len(xs), 1.2 + 0.7 * len(ys)))
    ax = fig.add_subplot()
    shown = np.ma.masked_invalid(grid)
    image = ax.imshow(shown, origin="lower", aspect="auto", cmap="viridis")
    fig.colorbar(image, ax=ax)
    for (i, j), value in np.ndenumerate(grid):
        if math.isfinite(value):
            ax.text(j, i, f"{value:.3g}", ha="center", va="center", color="w", fontsize=8)
    ax.set_xticks(range(len(xs)), [_label(v) for v in xs])
    ax.set_yticks(range(len(ys)), [_label(v) for v in ys])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    name = groups[0].metric["name"]
    title = f"median {name}" if what == "median" else f"share of seeds: {claim}"
    if others:
        title += " (" + ", ".join(f"{k}={_label(v)}" for k, v in others.items()) + ")"
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def curves(groups: list[Group], x: str) -> Figure:
    """The median metric against axis x, one line per combination of the other axes (at most
    MAX_CURVES), with the band between the quartiles over seeds."""
    import numpy as np
    from matplotlib.figure import Figure

    xs = _values(groups, x)
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in xs)
    position = {v: (float(v) if numeric else i) for i, v in enumerate(xs)}
    fixed = {k: v for k, v in groups[0].axes.items() if all(g.axes[k] == v for g in groups)}
    lines: dict[tuple[Any, ...], list[Group]] = {}
    for group in groups:
        key = tuple((k, v) for k, v in group.axes.items() if k != x and k not in fixed)
        lines.setdefault(key, []).append(group)
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    for key, members in list(lines.items())[:MAX_CURVES]:
        points = [g for g in members if g.metric["median"] is not None]
        if not points:
            continue
        at = np.array([position[g.axes[x]] for g in points])
        median = np.array([g.metric["median"] for g in points])
        label = ", ".join(f"{k}={_label(v)}" for k, v in key) or None
        (line,) = ax.plot(at, median, marker="o", label=label)
        low = np.array([g.metric["q1"] for g in points])
        high = np.array([g.metric["q3"] for g in points])
        ax.fill_between(at, low, high, color=line.get_color(), alpha=0.2)
    if not numeric:
        ax.set_xticks(range(len(xs)), [_label(v) for v in xs])
    elif min(xs) > 0 and max(xs) >= 10 * min(xs):  # a range of scales, e.g. widths 2..64
        ax.set_xscale("log", base=2)
    ax.set_xlabel(x)
    if fixed:
        ax.set_title(", ".join(f"{k}={_label(v)}" for k, v in fixed.items()), fontsize=9)
    ax.set_ylabel(groups[0].metric["name"] + " (median, quartiles over seeds)")
    if len(lines) > 1:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def save_sweep_figures(plan: Plan, groups: list[Group], folder: Path) -> dict[str, Path]:
    """DIR/figures/: heatmap.png and heatmap_claims.png over the first two varying non-seed
    axes (when there are two), curves.png against the first (when there is one)."""
    axes = varying_axes(plan)
    if not axes or not groups:
        return {}
    folder.mkdir(exist_ok=True)
    written = {"curves": _save(curves(groups, axes[0]), folder / "curves.png")}
    if len(axes) >= 2:
        x, y = axes[0], axes[1]
        written["heatmap"] = _save(heatmap(groups, x, y), folder / "heatmap.png")
        claims = _save(heatmap(groups, x, y, what="share"), folder / "heatmap_claims.png")
        written["heatmap_claims"] = claims
    return written
