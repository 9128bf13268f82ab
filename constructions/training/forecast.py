"""Will a run reach its target within its steps? A projection from the measurements so far.

Pure: experiments/ prints the verdict (train's progress on stderr). The margin ratio of a run
rises fast and then ever more slowly (the learning rate of "margin" halves every lr_half_life
steps), so the projection -- a straight line through the recent measurements, continued to the
last step -- is optimistic: a run it says will fall short will, barring a sudden jump, fall short.
The line goes through the best ratio so far at each measurement, not the ratio itself: a
birth-death split or a rebalancing dips the ratio for a few steps (measured at (101, 2): 0.71,
then -1.0 one measurement later, then 0.42), and a dip is no sign of where the run is going.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

#: No verdict before this share of the steps has run, nor from fewer measurements than this.
MIN_SHARE = 0.2
MIN_RECORDS = 8
#: The line is fitted to the most recent half of the measurements.
RECENT_SHARE = 0.5
#: "Clearly" short: the projected ratio is below the target by more than this.
CLEAR_GAP = 0.05


@dataclass(frozen=True)
class Forecast:
    """The margin ratio projected to the last step, from a line through recent measurements."""

    step: int  # the last measurement's step
    total_steps: int
    ratio: float  # the best margin ratio so far
    slope: float  # fitted rise of the ratio per step
    projected: float  # ratio + slope * (total_steps - step), capped at 1 (gamma* is the maximum)
    target: float

    @property
    def clearly_short(self) -> bool:
        return self.projected < self.target - CLEAR_GAP

    def message(self) -> str:
        per_1000 = 1000 * self.slope
        return (
            f"at step {self.step} of {self.total_steps} the best margin ratio is {self.ratio:.4f}, "
            f"rising {per_1000:+.4f} per 1000 steps: at this pace it reaches about "
            f"{self.projected:.4f} by step {self.total_steps}, short of the target {self.target}; "
            "raise --steps, or see docs/training.md for what makes a run converge"
        )


def forecast(
    steps: Sequence[int], ratios: Sequence[float], *, total_steps: int, target: float
) -> Forecast | None:
    """The projection once enough of the run has been seen (None before: MIN_SHARE, MIN_RECORDS).

    steps, ratios: the measurements so far, in order (a run's history records).
    """
    if len(steps) != len(ratios):
        raise ValueError(f"{len(steps)} steps but {len(ratios)} ratios")
    if len(steps) < MIN_RECORDS or steps[-1] < MIN_SHARE * total_steps:
        return None
    best = list(itertools.accumulate(ratios, max))
    recent = max(2, math.ceil(RECENT_SHARE * len(steps)))
    xs, ys = steps[-recent:], best[-recent:]
    x_mean = sum(xs) / len(xs)
    y_mean = sum(ys) / len(ys)
    sxx = sum((x - x_mean) ** 2 for x in xs)
    # least squares: slope = sum (x - x_mean)(y - y_mean) / sum (x - x_mean)^2
    sxy = sum((x - x_mean) * (y - y_mean) for x, y in zip(xs, ys, strict=True))
    slope = sxy / sxx if sxx else 0.0
    last = best[-1]
    projected = min(1.0, last + max(slope, 0.0) * (total_steps - steps[-1]))
    return Forecast(steps[-1], total_steps, last, slope, projected, target)
