"""Resumable training (constructions.training.state) and the paper runs' monitor and stop rule
(constructions.training.monitor): a run of N steps equals N/2 steps, a checkpoint written and
read back with torch.load(weights_only=True), and N/2 more, for every optimiser."""

from __future__ import annotations

import io
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import torch

from fourier_circuits.constructions.training import TrainConfig
from fourier_circuits.constructions.training.loop import train, train_run
from fourier_circuits.constructions.training.monitor import (
    Monitor,
    MonitorRecord,
    histogram_change,
    settled,
)
from fourier_circuits.constructions.training.state import TrainState
from fourier_circuits.theory import FourierCircuitsError

STEPS = 200
#: Each optimiser, and "margin" on mini-batches too: its birth-death noise and the batch
#: permutations then draw from the one torch generator, interleaved.
CONFIGS = {
    "margin": {"split_every": 20},
    # checks every 30 steps: the state at step 100 is mid-L-BFGS with 10 pairs in its memory
    "margin-lbfgs": {"optimizer": "margin", "split_every": 30},
    "margin-minibatch": {"optimizer": "margin", "batch_size": 50, "split_every": 20},
    "gd": {},
    "adamw": {"batch_size": 64, "train_fraction": 0.5},
}


def _config(name: str) -> TrainConfig:
    options: dict[str, Any] = {"optimizer": name.split("-")[0], **CONFIGS[name]}
    return TrainConfig(
        p=7,
        k=3,
        steps=STEPS,
        eval_every=25,
        target_ratio=None,
        seed=3,
        split_until=10_000,
        **options,
    )


def _through_file(state: TrainState) -> TrainState:
    """The state as a checkpoint file holds it: torch.save, then the safe loader."""
    buffer = io.BytesIO()
    torch.save(state.as_dict(), buffer)
    buffer.seek(0)
    return TrainState.from_dict(torch.load(buffer, weights_only=True))


def _numbers(result: Any) -> list[dict[str, Any]]:
    rows = [r.as_dict() for r in result.history]
    for row in rows:
        row.pop("seconds")
    return rows


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_resumed_run_equals_uninterrupted_run(name: str) -> None:
    cfg = _config(name)
    states: list[TrainState] = []
    full = train(cfg, on_state=states.append, state_every=STEPS // 2)
    assert [s.step for s in states] == [STEPS // 2, STEPS]
    if name == "margin-lbfgs":  # the state carries L-BFGS's memory, and the resume uses it
        assert states[0].method["phase"] == "lbfgs" and len(states[0].method["lbfgs"]["s"]) > 0
    resumed = train(cfg, resume=_through_file(states[0]))
    assert resumed.steps == full.steps == STEPS
    np.testing.assert_array_equal(resumed.net.U, full.net.U)
    np.testing.assert_array_equal(resumed.net.W, full.net.W)
    assert _numbers(resumed) == _numbers(full)


def test_resume_uses_the_state_negative_control() -> None:
    """A run that ignored the state would pass the test above; a damaged state must change the
    end (here AdamW's first moments, which only the optimiser's state carries)."""
    cfg = _config("adamw")
    states: list[TrainState] = []
    full = train(cfg, on_state=states.append, state_every=STEPS // 2)
    damaged = states[0].as_dict()
    moments = damaged["method"]["optimizer"]["state"][0]
    moments["exp_avg"] = moments["exp_avg"] * 3
    resumed = train(cfg, resume=TrainState.from_dict(damaged))
    assert not np.array_equal(resumed.net.U, full.net.U)


def test_resume_uses_the_lbfgs_memory_negative_control() -> None:
    """The same for "margin"'s L-BFGS phase: a memory whose steps are damaged (so its curvature
    model differs) must change the end; an intact one does not (the parametrized test above)."""
    cfg = _config("margin-lbfgs")
    states: list[TrainState] = []
    full = train(cfg, on_state=states.append, state_every=STEPS // 2)
    damaged = states[0].as_dict()
    memory = damaged["method"]["lbfgs"]
    memory["s"] = [x * 3 for x in memory["s"]]
    resumed = train(cfg, resume=TrainState.from_dict(damaged))
    assert not np.array_equal(resumed.net.U, full.net.U)


def test_resume_refuses_another_config() -> None:
    cfg = _config("gd")
    states: list[TrainState] = []
    train(cfg, on_state=states.append, state_every=STEPS // 2)
    with pytest.raises(FourierCircuitsError, match="other settings"):
        train(replace(cfg, lr=0.07), resume=states[0])


def test_monitored_run_resumes_with_its_records() -> None:
    cfg = TrainConfig(
        p=7, k=3, optimizer="adamw", steps=120, train_fraction=0.5, target_ratio=None, seed=1
    )
    monitor = Monitor(every=30, sample=100)
    states: list[TrainState] = []
    full = train_run(cfg, monitor=monitor, on_state=states.append, state_every=60)
    resumed = train_run(cfg, monitor=monitor, resume=_through_file(states[0]))
    assert [r.step for r in full.monitor] == [0, 30, 60, 90, 120]
    strip = [repr({**r.as_dict(), "seconds": 0}) for r in full.monitor]  # repr: NaN == NaN
    assert [repr({**r.as_dict(), "seconds": 0}) for r in resumed.monitor] == strip
    # one full measurement, at the end, over all of D_p
    assert [r.step for r in full.result.history] == [120]
    assert _numbers(resumed.result) == _numbers(full.result)


def _record(step: int, accuracy: float, power: float, counts: tuple[int, ...]) -> MonitorRecord:
    return MonitorRecord(
        step=step,
        seconds=0.0,
        loss=0.1,
        lr=0.005,
        train_accuracy=1.0,
        test_accuracy=accuracy,
        max_normalized_power_median=power,
        power_share_above=0.0,
        frequencies_covered=1.0,
        neurons_per_frequency=counts,
    )


def test_stop_rule_settles_only_when_accuracy_and_spectra_are_steady() -> None:
    monitor = Monitor(every=10, accuracy=0.99, tolerance=0.005, window=3)
    steady = [_record(10 * i, 0.995, 0.9 + 0.001 * i, (0, 50, 50)) for i in range(3)]
    assert settled(steady, monitor)
    assert not settled(steady[:2], monitor)  # fewer records than the window
    # negative controls: each condition alone blocks the stop
    low = [*steady[:2], replace(steady[2], test_accuracy=0.98)]
    assert not settled(low, monitor)
    moving = [*steady[:2], replace(steady[2], max_normalized_power_median=0.91)]
    assert not settled(moving, monitor)
    shifted = [*steady[:2], replace(steady[2], neurons_per_frequency=(0, 51, 49))]
    assert histogram_change(steady[0], shifted[2]) == pytest.approx(0.01)
    assert not settled(shifted, monitor)


def test_monitor_refuses_bad_settings() -> None:
    with pytest.raises(FourierCircuitsError, match="window"):
        Monitor(window=1)
    with pytest.raises(FourierCircuitsError, match="tolerance"):
        Monitor(tolerance=0.0)
