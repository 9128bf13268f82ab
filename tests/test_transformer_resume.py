"""constructions.transformer's resumable training: a run interrupted at a checkpoint and resumed
from it ends with exactly the numbers of the uninterrupted run (mini-batches and full batch,
through a torch.save / torch.load(weights_only=True) round trip); the negative controls: a state
with the batch order of another run, or one from another config, does not pass. Also the
monitor's subsets, evaluate() and the stop hook."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
import torch

from fourier_circuits.constructions.training.model import data_split
from fourier_circuits.constructions.transformer import (
    TransformerConfig,
    TransformerResult,
    train_transformer,
)
from fourier_circuits.constructions.transformer.loop import evaluate
from fourier_circuits.theory import FourierCircuitsError, Task


class StopHereError(Exception):
    """Raised by the test's checkpoint callback to stop a run where a crash would."""


def config(**overrides: Any) -> TransformerConfig:
    """A small run: 121 examples, mini-batches of 16 (four epochs and a bit in 20 steps)."""
    settings: dict[str, Any] = {
        "p": 11,
        "k": 2,
        "d_model": 16,
        "n_heads": 2,
        "d_head": 4,
        "d_mlp": 32,
        "steps": 40,
        "eval_every": 5,
        "batch_size": 16,
        "target_accuracy": None,
        "seed": 3,
    }
    return TransformerConfig(**{**settings, **overrides})


def round_trip(state: dict[str, Any]) -> dict[str, Any]:
    """The state as a checkpoint file gives it back (torch.save, torch.load weights_only)."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)
    assert isinstance(loaded, dict)
    return loaded


def interrupted_at(cfg: TransformerConfig, step: int, every: int) -> dict[str, Any]:
    """The state saved at `step` by a run of cfg that checkpoints every `every` steps and is
    interrupted right after saving it."""
    saved: list[dict[str, Any]] = []

    def checkpoint(state: dict[str, Any]) -> None:
        saved.append(round_trip(state))
        if state["step"] >= step:
            raise StopHereError

    with pytest.raises(StopHereError):
        train_transformer(cfg, checkpoint=checkpoint, checkpoint_every=every)
    assert saved[-1]["step"] == step
    return saved[-1]


def numbers(result: TransformerResult) -> list[dict[str, Any]]:
    """The history without the wall-clock seconds."""
    return [{**r.as_dict(), "seconds": 0} for r in result.history]


def assert_same_run(a: TransformerResult, b: TransformerResult) -> None:
    assert numbers(a) == numbers(b)
    assert (a.steps, a.stop_reason) == (b.steps, b.stop_reason)
    for name, value in a.params.items():
        assert np.array_equal(value, b.params[name]), name
    for name, value in a.initial.items():
        assert np.array_equal(value, b.initial[name]), name


@pytest.mark.parametrize("batch_size", [16, None])
def test_n_steps_equal_n_over_2_then_resume_n_over_2(batch_size: int | None) -> None:
    """StopHereError at step 20 of 40 (mid-epoch for batches of 16 of 60 examples), resumed."""
    cfg = config(batch_size=batch_size)
    whole = train_transformer(cfg)
    state = interrupted_at(cfg, 20, every=10)
    resumed = train_transformer(cfg, resume=state)
    assert_same_run(whole, resumed)
    assert resumed.seconds >= state["seconds"]  # both sessions counted


def test_a_state_with_another_batch_order_does_not_resume_exactly() -> None:
    """Negative control: the same state with the torch generator of another seed goes on with
    other batches, and the numbers differ (the comparison above can fail)."""
    cfg = config()
    whole = train_transformer(cfg)
    state = interrupted_at(cfg, 20, every=10)
    state["generator"] = torch.Generator().manual_seed(12345).get_state()
    state["batches"]["order"] = None  # a fresh epoch drawn from the other generator
    resumed = train_transformer(cfg, resume=state)
    assert not np.array_equal(resumed.params["E"], whole.params["E"])


def test_resume_refuses_another_config_and_a_foreign_state() -> None:
    state = interrupted_at(config(), 10, every=10)
    with pytest.raises(FourierCircuitsError, match=r"another config \(lr differ\)"):
        train_transformer(config(lr=1e-2), resume=state)
    with pytest.raises(FourierCircuitsError, match="not a Transformer training state"):
        train_transformer(config(), resume={"step": 3})
    with pytest.raises(FourierCircuitsError, match="multiple of eval_every"):
        train_transformer(config(), checkpoint=lambda s: None, checkpoint_every=7)
    with pytest.raises(FourierCircuitsError, match="go together"):
        train_transformer(config(), checkpoint=lambda s: None)


def test_monitor_measures_a_fixed_subset_and_evaluate_measures_all() -> None:
    cfg = config(steps=20)
    full = train_transformer(cfg)
    every = train_transformer(cfg, monitor_examples=10_000)  # more than there are: all of them
    assert_same_run(full, every)
    sampled = train_transformer(cfg, monitor_examples=7)
    for name, value in full.params.items():  # measuring does not change the training
        assert np.array_equal(value, sampled.params[name]), name
    accuracies = {r.test_accuracy for r in sampled.history}
    assert all(round(a * 7) == a * 7 for a in accuracies)  # shares of 7 examples
    train, test = data_split(Task(11, 2), cfg.train_fraction, np.random.default_rng(cfg.seed))
    assert evaluate(cfg, full.params, train) == (full.final.train_loss, full.final.train_accuracy)
    assert evaluate(cfg, full.params, test) == (full.final.test_loss, full.final.test_accuracy)


def test_stop_hook_decides_at_each_measurement_after_step_0() -> None:
    seen: list[int] = []

    def stop(record: Any, params: dict[str, np.ndarray]) -> bool:
        seen.append(record.step)
        assert params["E"].dtype == np.float64
        return record.step >= 15

    result = train_transformer(config(), stop=stop)
    assert seen == [5, 10, 15]
    assert (result.steps, result.stop_reason) == (15, "target")
