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
    SCALING_CAP,
    LBFGSMemory,
    armijo_holds,
    first_step_length,
    neuron_scaling,
)


def _pairs(n: int, count: int, seed: int) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """An SPD matrix A and `count` steps s with y = A s (a quadratic's gradient changes)."""
    rng = np.random.default_rng(seed)
    Q = rng.normal(size=(n, n))
    A = Q @ Q.T + n * np.eye(n)
    s = [rng.normal(size=n) for _ in range(count)]
    return A, s, [A @ x for x in s]


def _dense_inverse_bfgs(
    s: list[np.ndarray], y: list[np.ndarray], scaling: np.ndarray | None = None
) -> np.ndarray:
    """H from H_0 = (s.y / y.D y) D of the newest pair (D = diag(scaling), the identity when
    None), then the textbook inverse BFGS update H <- (I - rho s y^T) H (I - rho y s^T) +
    rho s s^T for each pair, oldest first (Nocedal & Wright eq. 6.17): what the two-loop
    recursion computes without forming H."""
    D = np.diag(np.ones(len(s[0])) if scaling is None else scaling)
    H = float(s[-1] @ y[-1]) / float(y[-1] @ D @ y[-1]) * D
    for si, yi in zip(s, y, strict=True):
        rho = 1.0 / float(yi @ si)
        V = np.eye(len(si)) - rho * np.outer(yi, si)
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


def test_two_loop_recursion_with_a_diagonal_initial_matrix() -> None:
    """The per-neuron scaling of "margin" (H_0 = gamma D) against the dense update from the same
    H_0; the secant equation still holds, and without pairs the direction is -D g."""
    _, s, y = _pairs(8, 5, seed=3)
    scaling = np.random.default_rng(4).uniform(0.1, 10.0, size=8)
    memory = LBFGSMemory()
    for si, yi in zip(s, y, strict=True):
        memory.remember(torch.tensor(si), torch.tensor(yi))
    g = np.random.default_rng(5).normal(size=8)
    d = memory.direction(torch.tensor(g), torch.tensor(scaling)).numpy()
    np.testing.assert_allclose(d, -_dense_inverse_bfgs(s, y, scaling) @ g, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(
        memory.direction(torch.tensor(y[-1]), torch.tensor(scaling)).numpy(),
        -s[-1],
        rtol=1e-10,
        atol=1e-12,
    )
    # negative control: the identity's matrix is another one
    assert not np.allclose(d, -_dense_inverse_bfgs(s, y) @ g, rtol=1e-6)
    memory.forget_pairs()
    np.testing.assert_allclose(
        memory.direction(torch.tensor(g), torch.tensor(scaling)).numpy(), -scaling * g
    )


@pytest.mark.parametrize("k", [2, 4])
def test_neuron_scaling_follows_the_curvature_of_homogeneous_neurons(k: int) -> None:
    """H_0's diagonal: neuron i's coordinates get (n_i / rms)^-(k-1) (the curvature along a
    (k+1)-homogeneous neuron scales as n_i^(k-1)), light neurons capped at SCALING_CAP, mean 1,
    the same for every coordinate of a neuron, and blind to the overall scale."""
    p, m = 5, 6
    rng = np.random.default_rng(k)
    U = torch.from_numpy(rng.normal(size=(m, k, p)))
    W = torch.from_numpy(rng.normal(size=(m, p)))
    unit = torch.cat([U.flatten(1), W], 1).norm(dim=1)
    sizes = torch.tensor([1.0, 1.0, 1.0, 1.0, 0.5, 1e-4], dtype=torch.float64)
    U *= (sizes / unit)[:, None, None]
    W *= (sizes / unit)[:, None]
    config = TrainConfig(p=p, k=k).resolved()
    method = methods.MarginMethod(
        U, W, config, gamma_star=1.0, generator=torch.Generator()
    )  # (projects onto the sphere: every norm divided by the same r)
    scaling = neuron_scaling(method.U, method.W)
    per_coordinate = torch.cat(
        [scaling[: U.numel()].view(m, -1), scaling[U.numel() :].view(m, -1)], 1
    )
    assert torch.equal(per_coordinate, per_coordinate[:, :1].expand_as(per_coordinate))
    factor = per_coordinate[:, 0]
    assert float(factor.mean()) == pytest.approx(1.0, rel=1e-12)
    assert float(factor[4] / factor[0]) == pytest.approx(2.0 ** (k - 1), rel=1e-12)
    rms = float(sizes.pow(2).mean().sqrt())
    # neuron 5 counts as rms / SCALING_CAP, neuron 0 as 1
    expected = (SCALING_CAP / rms) ** (k - 1)
    assert float(factor[5] / factor[0]) == pytest.approx(expected, rel=1e-12)
    # negative control: without the cap the dead neuron's factor would be (1e4)^(k-1) times
    assert float(factor[5] / factor[0]) < 1e4 ** (k - 1) / 10


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
