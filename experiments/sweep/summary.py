"""Seed statistics of a sweep: per group of the non-seed axes, the share of cells (seeds) meeting
each claim with its Wilson score interval, and the median and quartiles of the main metric.

Claims: `all_claims_held` (the cell's exit status was 0), and each threshold the subcommand
states in its JSON object's `claims` (train: margin_ratio_at_least 0.99, ...; transformer:
test_accuracy_at_least): met when the cell's value of that key is at least the threshold. A cell
that failed with an error (a diverged or stalled seed) meets no claim; internal errors (a bug, a
lost worker) are not results and are left out of every share.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: The main metric of each subcommand, summarised by its median and quartiles.
METRICS = {
    "train": "margin_ratio",
    "transformer": "test_accuracy",
    "solve": "relative_gap",
    "construct": "relative_error",
}
#: The axis whose values are repetitions, not conditions.
SEED_AXIS = "seed"
#: z of a two-sided 95% interval: the 0.975 quantile of the standard normal.
Z95 = 1.959963984540054


def wilson(successes: int, n: int, *, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a binomial share successes / n (Wilson 1927):
    (x + z^2/2 -+ z sqrt(x (n - x) / n + z^2 / 4)) / (n + z^2)."""
    if not 0 <= successes <= n or n == 0:
        raise ValueError(f"wilson needs 0 <= successes <= n, n >= 1 (got {successes}, {n})")
    z2 = z * z
    centre = successes + z2 / 2
    half = z * math.sqrt(successes * (n - successes) / n + z2 / 4)
    return max(0.0, (centre - half) / (n + z2)), min(1.0, (centre + half) / (n + z2))


def _value(row: dict[str, Any], key: str) -> Any:
    """A key of the cell's JSON object (stored as result_KEY where it is also an axis)."""
    return row.get(f"result_{key}", row.get(key))


def claims_met(row: dict[str, Any]) -> dict[str, bool]:
    """Which claims a cell met: all_claims_held, and KEY >= threshold for each KEY_at_least of
    its `claims` (an error row meets none; its claims are the ones its subcommand states)."""
    met = {"all_claims_held": row.get("status") == "ok"}
    claims = _value(row, "claims")
    if isinstance(claims, dict):
        for name, threshold in claims.items():
            if name.endswith("_at_least") and isinstance(threshold, (int, float)):
                value = _value(row, name.removesuffix("_at_least"))
                met[f"{name.removesuffix('_at_least')} >= {threshold}"] = (
                    isinstance(value, (int, float)) and value >= threshold
                )
    return met


@dataclass(frozen=True)
class Group:
    """The statistics of the cells sharing one combination of the non-seed axes."""

    axes: dict[str, Any]
    cells: int  # cells of the grid in this group
    finished: int  # with a result (ok, claims_failed or error)
    errors: int  # of which failed with an error (status "error")
    claims: dict[str, dict[str, Any]]  # claim -> held, n, share, wilson_low, wilson_high
    metric: dict[str, Any]  # name, n, median, q1, q3

    def as_dict(self) -> dict[str, Any]:
        return {
            "axes": self.axes,
            "cells": self.cells,
            "finished": self.finished,
            "errors": self.errors,
            "claims": self.claims,
            "metric": self.metric,
        }

    def flat(self) -> dict[str, Any]:
        """One row of summary.csv."""
        row: dict[str, Any] = {**self.axes, "cells": self.cells, "finished": self.finished}
        row["errors"] = self.errors
        for claim, stats in self.claims.items():
            for key in ("held", "n", "share", "wilson_low", "wilson_high"):
                row[f"{claim} {key}"] = stats[key]
        for key in ("median", "q1", "q3", "n"):
            row[f"{self.metric['name']} {key}"] = self.metric[key]
        return row


def _claim_stats(rows: Sequence[dict[str, Any]], names: Sequence[str]) -> dict[str, Any]:
    stats = {}
    for name in names:
        held = sum(1 for row in rows if claims_met(row).get(name, False))
        n = len(rows)
        low, high = wilson(held, n) if n else (None, None)
        share = held / n if n else None
        stats[name] = {"held": held, "n": n, "share": share, "wilson_low": low, "wilson_high": high}
    return stats


def _metric_stats(name: str, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    values = [
        float(v)
        for row in rows
        if row.get("status") in ("ok", "claims_failed")
        and isinstance(v := _value(row, name), (int, float))
        and math.isfinite(v)
    ]
    if not values:
        return {"name": name, "n": 0, "median": None, "q1": None, "q3": None}
    q1, median, q3 = np.percentile(np.array(values, dtype=np.float64), [25, 50, 75])
    return {
        "name": name,
        "n": len(values),
        "median": float(median),
        "q1": float(q1),
        "q3": float(q3),
    }


def summarise(
    subcommand: str,
    axes: Sequence[str],
    cells: Sequence[dict[str, Any]],
    rows: Sequence[dict[str, Any]],
) -> list[Group]:
    """One Group per combination of the non-seed axes, in grid order. `cells`: each cell's axis
    values (the plan's); `rows`: the latest row of each finished cell."""
    keys = [axis for axis in axes if axis != SEED_AXIS]
    groups: dict[tuple[Any, ...], list[int]] = {}
    for index, values in enumerate(cells):
        groups.setdefault(tuple(values[axis] for axis in keys), []).append(index)
    by_cell = {row["cell"]: row for row in rows}
    names: dict[str, None] = {"all_claims_held": None}
    for row in rows:
        names.update(dict.fromkeys(claims_met(row)))
    out = []
    for key, members in groups.items():
        found = [by_cell[i] for i in members if i in by_cell]
        results = [row for row in found if row.get("status") != "internal_error"]
        out.append(
            Group(
                axes=dict(zip(keys, key, strict=True)),
                cells=len(members),
                finished=len(results),
                errors=sum(1 for row in results if row.get("status") == "error"),
                claims=_claim_stats(results, list(names)),
                metric=_metric_stats(METRICS[subcommand], results),
            )
        )
    return out
