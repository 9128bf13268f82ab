"""The claims of Theorem 4.1 of arXiv 2402.09469 as data, and one verdict on a network.

Every command that asks "does this network satisfy the theorem?" (`inspect`, `train`,
`construct`, `verify`, the Python API) measures the network with the theory module, puts the
numbers in a `NetworkMeasurements`, and calls `judge`. The thresholds live here only.

    from fourier_circuits.theory import judge, measurements_of
    verdict = judge(measurements_of(net), regime="max_margin")
    verdict.holds, verdict.failures      # each failed claim named with its measured value

Two regimes, because the theorem is about the maximum and training only approaches it:
- "max_margin": a network claimed to attain gamma* (a construction, a convex solution, a saved
  network by default): margin ratio within MARGIN_RTOL of 1 from below and above, every example
  correct, the class-weighted margin at most gamma* (the single-neuron bound), single-frequency
  neurons, every frequency used;
- "trained": a network found by training from a random start: margin ratio >= MARGIN_RATIO_CLAIM
  (0.99), single-frequency neurons, every frequency used, and (when measured) phases that add up
  to PHASE_SUM_ATOL.
`min_ratio` overrides the margin threshold of either regime (`inspect --min-ratio`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from fourier_circuits.theory.errors import FourierCircuitsError
from fourier_circuits.theory.tolerances import (
    COVERAGE_CLAIM,
    MARGIN_RATIO_CLAIM,
    MARGIN_RTOL,
    PHASE_SUM_ATOL,
    SINGLE_FREQUENCY_CLAIM,
)

Regime = Literal["max_margin", "trained"]
REGIMES: tuple[Regime, ...] = ("max_margin", "trained")


@dataclass(frozen=True)
class TheoremClaim:
    """One claim: `quantity` (a field of NetworkMeasurements) `relation` `threshold`.

    name: the key in JSON output; statement: the claim in words; source: where it is proved.
    """

    name: str
    statement: str
    source: str
    quantity: str
    relation: Literal[">=", "<="]
    threshold: float

    def holds_for(self, value: float | None) -> bool:
        """Whether the measured value satisfies the claim (NaN and None fail)."""
        if value is None or not math.isfinite(value):
            return False
        return value >= self.threshold if self.relation == ">=" else value <= self.threshold


@dataclass(frozen=True)
class NetworkMeasurements:
    """What the claims are judged on, all measured by the theory module (margins over all of D_p,
    Fourier statistics over the active neurons). None: not measured (the claim is skipped)."""

    margin_ratio: float  # normalized margin / gamma* (Def 3.4, Theorem 4.1 (i))
    max_normalized_power_median: float  # median over active neurons (Theorem 4.1 (ii))
    frequencies_covered: float  # share of 1..(p-1)/2 that some active neuron uses (Thm 4.1 (iii))
    missing_frequencies: tuple[int, ...] = ()
    accuracy: float | None = None  # share of D_p with margin g > 0
    n_correct: int | None = None
    n_examples: int | None = None
    class_weighted_ratio: float | None = None  # E_unif[g'] / gamma* (Lemmas F.5-F.8)
    median_phase_residual: float | None = None  # |phi_1 + ... + phi_k - phi_w|, radians


@dataclass(frozen=True)
class ClaimResult:
    """A claim, the value measured for it, whether it holds, and a sentence naming both."""

    claim: TheoremClaim
    value: float | None
    holds: bool
    message: str


@dataclass(frozen=True)
class Verdict:
    """The results of `judge`, in the order of the claims."""

    regime: Regime
    results: tuple[ClaimResult, ...]

    @property
    def holds(self) -> bool:
        return all(result.holds for result in self.results)

    @property
    def failures(self) -> list[str]:
        """The failed claims, each a sentence with its measured value."""
        return [result.message for result in self.results if not result.holds]

    def as_dict(self) -> dict[str, bool]:
        """claim name -> holds."""
        return {result.claim.name: result.holds for result in self.results}


def _claim(name: str, threshold: float) -> TheoremClaim:
    statement, source, quantity, relation = _CLAIM_TEXT[name]
    return TheoremClaim(name, statement, source, quantity, relation, threshold)


#: name -> (statement, source, measured quantity, relation); thresholds come with the regime.
_CLAIM_TEXT: dict[str, tuple[str, str, str, Literal[">=", "<="]]] = {
    "margin_reaches_gamma_star": (
        "normalized margin >= {threshold:.10g} gamma*",
        "Theorem 4.1 (i)",
        "margin_ratio",
        ">=",
    ),
    "margin_at_most_gamma_star": (
        "normalized margin <= gamma*",
        "Theorem 4.1 (i)",
        "margin_ratio",
        "<=",
    ),
    "class_weighted_at_most_gamma_star": (
        "class-weighted margin <= gamma*",
        "Lemmas F.5-F.8",
        "class_weighted_ratio",
        "<=",
    ),
    "all_correct": ("every example classified correctly", "Def 3.3", "accuracy", ">="),
    "single_frequency_neurons": (
        "median maximum normalized power >= {threshold:.10g}",
        "Theorem 4.1 (ii)",
        "max_normalized_power_median",
        ">=",
    ),
    "every_frequency_used": (
        "every frequency used by an active neuron",
        "Theorem 4.1 (iii)",
        "frequencies_covered",
        ">=",
    ),
    "phases_add_up": (
        "median phase-sum residual <= {threshold:.10g} rad",
        "Theorem 4.1 (ii)",
        "median_phase_residual",
        "<=",
    ),
}


def validate_min_ratio(min_ratio: object) -> float:
    """min_ratio as a float in (0, 1], or a FourierCircuitsError naming it."""
    if isinstance(min_ratio, bool) or not isinstance(min_ratio, (int, float, np.floating)):
        raise FourierCircuitsError(f"min_ratio={min_ratio!r} must be a number in (0, 1]")
    value = float(min_ratio)
    if not (math.isfinite(value) and 0 < value <= 1):
        raise FourierCircuitsError(
            f"min_ratio={min_ratio!r} must be in (0, 1] (1 - {MARGIN_RTOL:g} demands gamma*; "
            f"{MARGIN_RATIO_CLAIM} is what `train` claims)"
        )
    return value


def theorem_claims(regime: Regime, *, min_ratio: float | None = None) -> tuple[TheoremClaim, ...]:
    """The claims of `regime` with their thresholds (min_ratio: the margin claim's threshold,
    by default 1 - MARGIN_RTOL for "max_margin" and MARGIN_RATIO_CLAIM for "trained")."""
    if regime not in REGIMES:
        raise FourierCircuitsError(f"regime={regime!r} must be one of {', '.join(REGIMES)}")
    if regime == "max_margin":
        ratio = 1 - MARGIN_RTOL if min_ratio is None else validate_min_ratio(min_ratio)
        return (
            _claim("margin_reaches_gamma_star", ratio),
            _claim("margin_at_most_gamma_star", 1 + MARGIN_RTOL),
            _claim("class_weighted_at_most_gamma_star", 1 + MARGIN_RTOL),
            _claim("all_correct", 1.0),
            _claim("single_frequency_neurons", SINGLE_FREQUENCY_CLAIM),
            _claim("every_frequency_used", COVERAGE_CLAIM),
        )
    ratio = MARGIN_RATIO_CLAIM if min_ratio is None else validate_min_ratio(min_ratio)
    return (
        _claim("margin_reaches_gamma_star", ratio),
        _claim("every_frequency_used", COVERAGE_CLAIM),
        _claim("single_frequency_neurons", SINGLE_FREQUENCY_CLAIM),
        _claim("phases_add_up", PHASE_SUM_ATOL),
    )


def _message(claim: TheoremClaim, m: NetworkMeasurements, value: float | None) -> str:
    head = f"{claim.statement.format(threshold=claim.threshold)} ({claim.source})"
    if claim.name == "every_frequency_used":
        return f"{head}: missing {list(m.missing_frequencies)}"
    if claim.name == "all_correct" and m.n_correct is not None:
        return f"{head}: {m.n_correct} of {m.n_examples} correct"
    shown = "nan" if value is None else f"{value:.10g}"
    return f"{head}: {claim.quantity} = {shown}"


def judge(
    measurements: NetworkMeasurements,
    *,
    regime: Regime = "max_margin",
    min_ratio: float | None = None,
) -> Verdict:
    """Which claims of Theorem 4.1 hold for a network with these measurements, and why not.

    A claim whose quantity was not measured (None) is left out, except the margin claim, which
    every regime needs."""
    results = []
    for claim in theorem_claims(regime, min_ratio=min_ratio):
        value = getattr(measurements, claim.quantity)
        if value is None and claim.quantity != "margin_ratio":
            continue
        holds = claim.holds_for(None if value is None else float(value))
        results.append(ClaimResult(claim, value, holds, _message(claim, measurements, value)))
    return Verdict(regime, tuple(results))
