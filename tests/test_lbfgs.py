"""The L-BFGS phase of "margin" (constructions.training.lbfgs): the two-loop recursion against
the secant equation and a dense inverse-BFGS matrix, the pair filter, the Armijo test, the
switch from Adam, and what it buys (steps to margin ratio 0.99 against Adam alone)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fourier_circuits.constructions.training import TrainConfig, methods, train
from fourier_circuits.constructions.training.lbfgs import (
    HISTORY,
    LBFGSMemory,
    armijo_holds,
    first_step_length,
)


def _pairs(n: int, count: int, seed: int) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """An SPD matrix A and `count` steps s with y = A s (a quadratic's gradient changes)."""
    rng = np.random.default_rng(seed)
    Q = rng.normal(size=(n, n))
    A = Q @ Q.T + n * np.eye(n)
    s = [rng.normal(size=n) for _ in range(count)]
    return A, s, [A @ x for x in s]


def _dense_inverse_bfgs(s: list[np.ndarray], y: list[np.ndarray]) -> np.ndarray:
    """H from H_0 = (s.y / y.y) I of the newest pair, then the textbook inverse BFGS update
    H <- (I - rho s y^T) H (I - rho y s^T) + rho s s^T for each pair, oldest first (Nocedal &
    Wright eq. 6.17): what the two-loop recursion computes without forming H."""
    n = len(s[0])
    H = float(s[-1] @ y[-1]) / float(y[-1] @ y[-1]) * np.eye(n)
    for si, yi in zip(s, y, strict=True):
        rho = 1.0 / float(yi @ si)
        V = np.eye(n) - rho * np.outer(yi, si)
        H = V.T @ H @ V + rho * np.outer(si, si)
    return H


def test_two_loop_recursion_is_the_inverse_bfgs_matrix() -> None:
    _, s, y = _pairs(8, 5, seed=0)
    memory = LBFGSMemory()
    for si, yi in zip(s, y, strict=True):
        memory.remember(torch.tensor(si), torch.tensor(yi))
    g = np.random.default_rng(1).normal(size=8)
    d = memory.direction(torch.tensor(g)).numpy()
    np.testing.assert_allclose(d, -_dense_inverse_bfgs(s, y) @ g, rtol=1e-10, atol=1e-12)
    # the newest pair's secant equation H y = s
    np.testing.assert_allclose(
        memory.direction(torch.tensor(y[-1])).numpy(), -s[-1], rtol=1e-10, atol=1e-12
    )
    # negative control: the same pairs in another order give another matrix
    assert not np.allclose(d, -_dense_inverse_bfgs(s[::-1], y[::-1]) @ g, rtol=1e-6)


def test_memory_keeps_the_newest_pairs_and_refuses_negative_curvature() -> None:
    _, s, y = _pairs(4, HISTORY + 3, seed=2)
    memory = LBFGSMemory()
    for si, yi in zip(s, y, strict=True):
        memory.remember(torch.tensor(si), torch.tensor(yi))
    assert len(memory.s) == HISTORY
    np.testing.assert_array_equal(memory.s[0].numpy(), s[3])
    before = len(memory.s)
    memory.remember(torch.tensor(s[0]), torch.tensor(-y[0]))  # s . y < 0: H would not be SPD
    assert len(memory.s) == before
    memory.reset()
    assert memory.s == [] and memory.grad is None and memory.loss is None
    # without pairs: steepest descent, and a first step of min(1, 1 / |g|_1)
    g = torch.tensor([3.0, -1.0])
    np.testing.assert_array_equal(memory.direction(g).numpy(), [-3.0, 1.0])
    assert first_step_length(memory, g) == pytest.approx(0.25)


def test_armijo_condition() -> None:
    # slope -1: a step of length 1 must lower the loss by at least ARMIJO (1e-4), up to rounding
    assert armijo_holds(0.5, 1.0, 1.0, -1.0, eps=1e-16)
    assert not armijo_holds(1.0, 1.0, 1.0, -1.0, eps=1e-16)
    assert armijo_holds(1.0, 1.0, 1.0, -1e-20, eps=1e-16)  # within the loss's rounding
    assert not armijo_holds(math.nan, 1.0, 1.0, -1.0, eps=1e-16)


def test_switch_waits_for_confident_logits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Adam hands over once CE <= SWITCH_CE_SHARE log p, not before; never with lbfgs=False or
    on mini-batches."""
    phases: list[tuple[int, str]] = []
    step = methods.MarginMethod.step

    def spy(self: methods.MarginMethod, t: int, batch: object) -> float:
        value = step(self, t, batch)  # type: ignore[arg-type]
        phases.append((t + 1, self.phase))
        return value

    monkeypatch.setattr(methods.MarginMethod, "step", spy)
    options = {"p": 7, "k": 3, "steps": 300, "target_ratio": None, "eval_every": 100}
    train(TrainConfig(**options))  # type: ignore[arg-type]
    switched = [t for t, phase in phases if phase == "lbfgs"]
    assert switched and switched[0] % 100 == 0  # at a check
    for off in ({"lbfgs": False}, {"batch_size": 100}):
        phases.clear()
        train(TrainConfig(**options, **off))  # type: ignore[arg-type]
        assert {phase for _, phase in phases} == {"adam"}


@pytest.mark.parametrize("seed", [0, 1])
def test_lbfgs_reaches_the_margin_in_fewer_steps(seed: int) -> None:
    """Measured at (7, 3): 450-550 steps to 0.99 with L-BFGS, 2050-2150 with Adam alone; the
    test asks for half (the control is the same run with lbfgs=False)."""
    fast = train(TrainConfig(p=7, k=3, seed=seed))
    slow = train(TrainConfig(p=7, k=3, seed=seed, lbfgs=False))
    hit_fast, hit_slow = fast.first_reaching(0.99), slow.first_reaching(0.99)
    assert hit_fast is not None and hit_slow is not None
    assert fast.final.frequencies_covered == 1.0
    assert fast.final.max_normalized_power_median >= 0.95
    assert hit_fast.step <= hit_slow.step / 2
