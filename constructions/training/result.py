"""What a training run measures and returns; every number comes from the theory module.

The weights are converted to a float64 theory.PolyNet and measured there: margins by
theory.margin_report (all of D_p) and theory.margins_from_logits (the training and held-out
parts), the Fourier statistics by theory.neuron_spectra / fourier_summary, Condition 3.8 by
theory.condition_3_8. So a saved network, re-measured by the theory module, gives the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fourier_circuits.constructions.training.config import TrainConfig
from fourier_circuits.theory import (
    FourierCircuitsError,
    PolyNet,
    condition_3_8,
    fourier_summary,
    gamma_star,
    labels,
    margin_report,
    margin_report_by_part,
    margins_from_logits,
    neuron_spectra,
    part_index,
)
from fourier_circuits.theory.claims import NetworkMeasurements, Verdict, judge
from fourier_circuits.theory.serialise import jsonable
from fourier_circuits.theory.tolerances import MARGIN_RATIO_CLAIM


@dataclass(frozen=True)
class HistoryRecord:
    """The network after `step` optimiser steps, measured by the theory module.

    Margins are normalized (divided by the (k+1)-th power of the L_{2,k+1} norm, Def 3.4);
    ratios are relative to gamma* (Theorem 4.1 (i)).
    normalized_margin / margin_ratio: over all of D_p (what `inspect` of the saved file reports);
    train_accuracy, train_normalized_margin, train_margin_ratio: over the training part (the
    same when training on all of D_p).
    test_accuracy: over the held-out part; None when there is none (train_fraction = 1).
    Accuracy counts examples with margin g > 0 (a tie counts as wrong). loss: the objective of
    the last step (for "margin" CE / CE*, which tends to 1); NaN (None in JSON) at step 0.
    class_weighted_margin: E_{a in D_p}[g'(theta / ||theta||)] (Def 3.6, uniform tau), >= margin;
    condition_3_8: max over training examples of (g' - g) / max|logit| (0 under Condition 3.8).
    The Fourier statistics are over the active neurons (theory.active_neurons); the per-neuron
    lists (all m neurons) are the dominant frequency and the maximum normalized power.
    """

    step: int
    seconds: float
    loss: float
    lr: float
    train_accuracy: float
    test_accuracy: float | None
    normalized_margin: float
    margin_ratio: float
    train_normalized_margin: float
    train_margin_ratio: float
    class_weighted_margin: float
    class_weighted_ratio: float
    condition_3_8: float
    norm: float
    n_active: int
    frequencies_covered: float
    missing_frequencies: tuple[int, ...]
    neurons_per_frequency: tuple[int, ...]
    max_normalized_power_median: float
    max_normalized_power_min: float
    max_phase_residual: float
    median_phase_residual: float
    min_amplitude_balance: float
    median_amplitude_balance: float
    neuron_dominant: tuple[int, ...]
    neuron_max_normalized_power: tuple[float, ...]

    def claims_hold(self, target_ratio: float = MARGIN_RATIO_CLAIM) -> bool:
        """The claims of Theorem 4.1 as checked on a trained network (theory.claims, regime
        "trained"): margin ratio >= target_ratio, every frequency covered, median maximum
        normalized power >= SINGLE_FREQUENCY_CLAIM, median phase-sum residual <= PHASE_SUM_ATOL."""
        return not self.failures(target_ratio)

    @property
    def measurements(self) -> NetworkMeasurements:
        """What the claims of Theorem 4.1 are judged on (theory.claims)."""
        return NetworkMeasurements(
            margin_ratio=self.margin_ratio,
            max_normalized_power_median=self.max_normalized_power_median,
            frequencies_covered=self.frequencies_covered,
            missing_frequencies=self.missing_frequencies,
            median_phase_residual=self.median_phase_residual,
        )

    def verdict(self, target_ratio: float = MARGIN_RATIO_CLAIM) -> Verdict:
        """theory.judge in the "trained" regime, the margin claim at target_ratio."""
        return judge(self.measurements, regime="trained", min_ratio=target_ratio)

    def failures(self, target_ratio: float = MARGIN_RATIO_CLAIM) -> list[str]:
        """The checked claims that fail, each named with its measured value."""
        return self.verdict(target_ratio).failures

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (lists instead of tuples; every float finite or None)."""
        return dict(jsonable(self))


def measure(
    net: PolyNet,
    train_inputs: np.ndarray[Any, Any],
    test_inputs: np.ndarray[Any, Any],
    *,
    step: int,
    seconds: float,
    loss: float,
    lr: float,
) -> HistoryRecord:
    """Measure `net` with the theory module (see the module docstring)."""
    gs = gamma_star(net.p, net.k)
    where = part_index(net.p, net.k, (train_inputs, test_inputs))
    if where is not None:  # a split of D_p: one pass measures all of it and both parts
        report, (train, test) = margin_report_by_part(net, where, n_parts=2, workers=1)
        train_margin, train_accuracy, condition = train.margin, train.accuracy, train.condition_3_8
        test_accuracy = test.accuracy if test.n_examples else None
    else:  # inputs repeated: measured row by row
        report = margin_report(net, workers=1)
        train_margin, train_accuracy = _margin_and_accuracy(net, train_inputs)
        test_accuracy = _margin_and_accuracy(net, test_inputs)[1] if len(test_inputs) else None
        condition = condition_3_8(net, train_inputs)
    norm_power = report.norm ** (net.k + 1)
    spectra = neuron_spectra(net)
    summary = fourier_summary(net, spectra=spectra)
    active = spectra.active
    residual = np.abs(spectra.phase_residual[active])
    balance = spectra.amplitude_balance[active]
    return HistoryRecord(
        step=step,
        seconds=seconds,
        loss=loss,
        lr=lr,
        train_accuracy=train_accuracy,
        test_accuracy=test_accuracy,
        normalized_margin=report.normalized_margin,
        margin_ratio=report.margin_ratio,
        train_normalized_margin=train_margin / norm_power,
        train_margin_ratio=train_margin / norm_power / gs,
        class_weighted_margin=report.mean_class_weighted,
        class_weighted_ratio=report.mean_class_weighted / gs,
        condition_3_8=condition,
        norm=report.norm,
        n_active=summary.n_active,
        frequencies_covered=summary.frequencies_covered,
        missing_frequencies=summary.missing_frequencies,
        neurons_per_frequency=summary.neurons_per_frequency,
        max_normalized_power_median=summary.max_normalized_power_median,
        max_normalized_power_min=summary.max_normalized_power_min,
        max_phase_residual=summary.max_phase_residual,
        median_phase_residual=float(np.median(residual)),
        min_amplitude_balance=summary.min_amplitude_balance,
        median_amplitude_balance=float(np.median(balance)),
        neuron_dominant=tuple(int(z) for z in spectra.dominant),
        neuron_max_normalized_power=tuple(float(v) for v in spectra.max_normalized_power),
    )


def _margin_and_accuracy(net: PolyNet, inputs: np.ndarray[Any, Any]) -> tuple[float, float]:
    """(min margin, share with margin > 0) over the given inputs, by theory.margins_from_logits."""
    g, _ = margins_from_logits(net.logits(inputs), labels(inputs, net.p))
    return float(g.min()), float(np.count_nonzero(g > 0) / len(g))


@dataclass(frozen=True)
class TrainResult:
    """A finished run: the resolved config, the initial and final networks (theory.PolyNet,
    float64), the history of measurements (the last record measures `net`), why it stopped."""

    config: TrainConfig
    initial: PolyNet
    net: PolyNet
    history: tuple[HistoryRecord, ...]
    stop_reason: str  # "target" (claims held), "steps" (budget used), "plateau" (no progress)
    steps: int
    seconds: float
    threads: int

    @property
    def final(self) -> HistoryRecord:
        return self.history[-1]

    def first_reaching(self, ratio: float) -> HistoryRecord | None:
        """The first measurement with margin_ratio >= ratio (None if none)."""
        return next((r for r in self.history if r.margin_ratio >= ratio), None)

    def failures(self, target_ratio: float = MARGIN_RATIO_CLAIM) -> list[str]:
        return self.final.failures(target_ratio)


class TrainingError(FourierCircuitsError):
    """Training stopped without a usable network; `history` holds what was measured before
    (HistoryRecords from train, TransformerRecords from constructions.transformer)."""

    def __init__(self, message: str, *, step: int, history: tuple[Any, ...]) -> None:
        super().__init__(message)
        self.step = step
        self.history = history


class TrainingDivergedError(TrainingError):
    """The loss or the weights became non-finite."""


class TrainingStalledError(TrainingError):
    """The loss did not fall by 1% within `stall_steps` steps."""
