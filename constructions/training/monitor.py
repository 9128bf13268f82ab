"""A cheap measurement of a long training run, and the paper runs' stop rule.

train's own measurement (training.result.measure) evaluates all of D_p every eval_every steps:
at the paper's sizes (p^k = 0.9 to 6.4 million inputs) one such measurement costs more than a
thousand steps. A `Monitor` measures instead, every `every` steps:
- accuracy on fixed random samples of `sample` training and `sample` held-out examples (drawn
  once from numpy Generator([seed, MONITOR_STREAM]), so resuming draws the same ones), in the
  training dtype on the training device;
- the Fourier statistics of the neurons, from one DFT of [U, W] (theory.neuron_spectra): the
  median maximum normalized power, the share of neurons above POWER_THRESHOLD, the neurons per
  frequency and the frequencies covered.
The run stops ("settled") at the first measurement where the held-out sample's accuracy is at
least `accuracy` and the Fourier statistics have stopped changing: over the last `window`
measurements the median maximum normalized power moved by less than `tolerance` (max - min) and
the neurons-per-frequency histogram, as shares of the active neurons, by less than `tolerance`
in total variation (half the L1 distance between the first and the last of the window). The
step budget (config.steps) ends it otherwise ("steps"). The final network is then measured over
all of D_p in float64, once, by training.result.measure.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch

from fourier_circuits.constructions.training.config import positive_int
from fourier_circuits.constructions.training.model import Batch, make_batch, to_polynet
from fourier_circuits.constructions.training.model import logits as torch_logits
from fourier_circuits.theory import FourierCircuitsError, fourier_summary, neuron_spectra

#: The share of neurons counted as single-frequency in the paper's histograms.
POWER_THRESHOLD = 0.9
#: The second word of the sample's seed (the first is config.seed), apart from the split's stream.
MONITOR_STREAM = 17


@dataclass(frozen=True)
class Monitor:
    """How a long run is watched and when it stops (module docstring)."""

    every: int = 200  # steps between two measurements
    sample: int = 8192  # examples of each of the training and held-out sets measured
    accuracy: float = 0.99  # held-out sample accuracy the stop needs
    tolerance: float = 0.005  # largest change of the Fourier statistics that counts as settled
    window: int = 3  # measurements over which they must not change

    def __post_init__(self) -> None:
        for name in ("every", "sample", "window"):
            positive_int(name, getattr(self, name), optional=False)
        if self.window < 2:
            raise FourierCircuitsError(f"window={self.window!r} must be at least 2")
        for name in ("accuracy", "tolerance"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0 < value <= 1):
                raise FourierCircuitsError(f"{name}={value!r} must lie in (0, 1]")


@dataclass(frozen=True)
class MonitorRecord:
    """One cheap measurement after `step` steps (accuracies on the samples)."""

    step: int
    seconds: float
    loss: float
    lr: float
    train_accuracy: float  # on the training sample
    test_accuracy: float | None  # on the held-out sample; None without a held-out set
    max_normalized_power_median: float
    power_share_above: float  # share of active neurons with max normalized power > 0.9
    frequencies_covered: float
    neurons_per_frequency: tuple[int, ...]  # zeta = 0..(p-1)/2, active neurons

    def as_dict(self) -> dict[str, Any]:
        return {
            f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
            for f in fields(self)
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> MonitorRecord:
        found: dict[str, Any] = {
            f.name: tuple(v) if isinstance(v := values[f.name], list) else v for f in fields(cls)
        }
        return cls(**found)


def sample_rows(n: int, size: int, seed: int, which: int) -> np.ndarray[Any, Any]:
    """`size` distinct rows of n (all of them when n <= size), the same for the same seed."""
    if n <= size:
        return np.arange(n)
    rng = np.random.default_rng([seed, MONITOR_STREAM, which])
    return np.sort(rng.choice(n, size=size, replace=False))


class Watcher:
    """Measures with a Monitor and decides the stop (module docstring)."""

    def __init__(
        self,
        monitor: Monitor,
        train_inputs: np.ndarray[Any, Any],
        test_inputs: np.ndarray[Any, Any],
        *,
        p: int,
        seed: int,
        device: torch.device,
    ) -> None:
        self.monitor = monitor
        self.train = make_batch(
            train_inputs[sample_rows(len(train_inputs), monitor.sample, seed, 0)], p, device=device
        )
        self.test = (
            make_batch(
                test_inputs[sample_rows(len(test_inputs), monitor.sample, seed, 1)],
                p,
                device=device,
            )
            if len(test_inputs)
            else None
        )
        self.records: list[MonitorRecord] = []

    def measure(
        self, U: torch.Tensor, W: torch.Tensor, *, step: int, seconds: float, loss: float, lr: float
    ) -> MonitorRecord:
        with torch.no_grad():
            train_accuracy = _accuracy(U, W, self.train)
            test_accuracy = None if self.test is None else _accuracy(U, W, self.test)
        net = to_polynet(U, W)
        spectra = neuron_spectra(net)
        summary = fourier_summary(net, spectra=spectra)
        power = spectra.max_normalized_power[spectra.active]
        record = MonitorRecord(
            step=step,
            seconds=seconds,
            loss=loss,
            lr=lr,
            train_accuracy=train_accuracy,
            test_accuracy=test_accuracy,
            max_normalized_power_median=summary.max_normalized_power_median,
            power_share_above=float(np.mean(power > POWER_THRESHOLD)),
            frequencies_covered=summary.frequencies_covered,
            neurons_per_frequency=summary.neurons_per_frequency,
        )
        self.records.append(record)
        return record

    def settled(self) -> bool:
        """The stop rule (module docstring) on the records so far."""
        return settled(self.records, self.monitor)


def settled(records: list[MonitorRecord], monitor: Monitor) -> bool:
    """Accuracy reached and Fourier statistics unchanged over the last `window` records."""
    if len(records) < monitor.window:
        return False
    last = records[-1]
    accuracy = last.test_accuracy if last.test_accuracy is not None else last.train_accuracy
    if accuracy < monitor.accuracy:
        return False
    window = records[-monitor.window :]
    medians = [r.max_normalized_power_median for r in window]
    return (
        max(medians) - min(medians) < monitor.tolerance
        and histogram_change(window[0], window[-1]) < monitor.tolerance
    )


def histogram_change(a: MonitorRecord, b: MonitorRecord) -> float:
    """Total variation distance between the neurons-per-frequency shares of two records."""
    x = np.asarray(a.neurons_per_frequency, dtype=np.float64)
    y = np.asarray(b.neurons_per_frequency, dtype=np.float64)
    return 0.5 * float(np.abs(x / max(x.sum(), 1) - y / max(y.sum(), 1)).sum())


def _accuracy(U: torch.Tensor, W: torch.Tensor, batch: Batch) -> float:
    """Share of the batch whose label logit beats every other (a tie counts as wrong)."""
    correct = 0
    for lo in range(0, len(batch), 1024):
        f = torch_logits(U, W, Batch(batch.inputs[lo : lo + 1024], batch.labels[lo : lo + 1024]))
        y = batch.labels[lo : lo + 1024]
        mine = f.gather(1, y[:, None])[:, 0]
        f.scatter_(1, y[:, None], -torch.inf)
        correct += int((mine > f.max(dim=1).values).sum())
    return correct / len(batch)
