"""The hand-written backward pass of training.kernel against autograd and finite differences."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn import functional

from fourier_circuits.constructions.training import chunks, kernel, methods, model
from fourier_circuits.constructions.training.config import TrainConfig
from fourier_circuits.theory import Task, all_inputs, gamma_star


def _weights(p: int, k: int, m: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    return (
        torch.from_numpy(rng.normal(size=(m, k, p)) / math.sqrt(p)),
        torch.from_numpy(rng.normal(size=(m, p)) / math.sqrt(p)),
    )


def _autograd(
    U: torch.Tensor, W: torch.Tensor, batch: model.Batch, scale: float
) -> tuple[float, torch.Tensor, torch.Tensor, float]:
    """CE(s f) by autograd through model.logits (the plain forward pass)."""
    U = U.clone().requires_grad_(True)
    W = W.clone().requires_grad_(True)
    s = torch.tensor(scale, dtype=U.dtype, requires_grad=True)
    loss = functional.cross_entropy(model.logits(U, W, batch) * s, batch.labels)
    loss.backward()
    assert U.grad is not None and W.grad is not None and s.grad is not None
    return float(loss.detach()), U.grad, W.grad, float(s.grad)


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


@st.composite
def problems(draw: st.DrawFn) -> tuple[int, int, int, int, float, int, int]:
    p = draw(st.sampled_from([3, 5, 7]))
    k = draw(st.sampled_from([2, 3, 4]))
    m = draw(st.integers(1, 9))
    seed = draw(st.integers(0, 2**16))
    scale = draw(st.sampled_from([0.3, 1.0, 7.0]))
    chunk_bytes = draw(st.sampled_from([1, 200, 10**6]))  # one row a chunk .. one chunk
    workers = draw(st.sampled_from([1, 2, 3]))
    return p, k, m, seed, scale, chunk_bytes, workers


@given(problems())
@settings(max_examples=40, deadline=None)
def test_kernel_gradient_equals_autograd(case: tuple[int, int, int, int, float, int, int]) -> None:
    """loss, dU, dW and dL/ds of the chunked kernel equal autograd's, for any chunking (a ragged
    last chunk included) and any number of workers; the same workers give the same bits."""
    p, k, m, seed, scale, chunk_bytes, workers = case
    U, W = _weights(p, k, m, seed)
    batch = model.make_batch(all_inputs(Task(p, k)), p, device=torch.device("cpu"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(chunks, "CHUNK_BYTES", chunk_bytes)
        ours = kernel.ce_gradients(U, W, batch.inputs, batch.labels, scale=scale, workers=workers)
        again = kernel.ce_gradients(U, W, batch.inputs, batch.labels, scale=scale, workers=workers)
    assert torch.equal(ours.dU, again.dU) and ours.loss == again.loss
    loss, dU, dW, ds = _autograd(U, W, batch, scale)
    assert ours.loss == pytest.approx(loss, rel=1e-12)
    assert _relative(ours.dU, dU) < 1e-11
    assert _relative(ours.dW, dW) < 1e-11
    assert ours.dscale == pytest.approx(ds, rel=1e-10, abs=1e-14)


def test_kernel_gradient_equals_finite_differences() -> None:
    """An independent route: central differences of the loss in a random direction."""
    p, k, m = 5, 3, 4
    U, W = _weights(p, k, m, 3)
    batch = model.make_batch(all_inputs(Task(p, k)), p, device=torch.device("cpu"))
    g = kernel.ce_gradients(U, W, batch.inputs, batch.labels, scale=2.0)
    rng = np.random.default_rng(4)
    dirU = torch.from_numpy(rng.normal(size=U.shape))
    dirW = torch.from_numpy(rng.normal(size=W.shape))
    h = 1e-5

    def loss_at(t: float) -> float:
        return kernel.ce_gradients(
            U + t * dirU, W + t * dirW, batch.inputs, batch.labels, scale=2.0
        ).loss

    numeric = (loss_at(h) - loss_at(-h)) / (2 * h)
    analytic = float((g.dU * dirU).sum() + (g.dW * dirW).sum())
    assert analytic == pytest.approx(numeric, rel=1e-7)
    # negative control: the gradient of z^k with exponent k - 2 instead of k - 1 is caught
    wrong = float((g.dU * dirU).sum() * 0.9 + (g.dW * dirW).sum())
    assert wrong != pytest.approx(numeric, rel=1e-4)


@pytest.mark.parametrize("optimizer", ["margin", "gd"])
def test_method_gradient_equals_autograd_of_its_objective(optimizer: str) -> None:
    """The chain rule of each optimiser's objective (margin: CE(s f / ||theta||^(k+1)) / CE*;
    gd: CE(f) + lambda ||theta||_{2,k+1}^r) against autograd of the objective as written."""
    p, k, m = 5, 3, 6
    U, W = _weights(p, k, m, 5)
    batch = model.make_batch(all_inputs(Task(p, k)), p, device=torch.device("cpu"))
    config = TrainConfig(p=p, k=k, width=m, optimizer=optimizer, weight_decay=None).resolved()
    if optimizer == "gd":
        config = TrainConfig(
            p=p, k=k, width=m, optimizer="gd", weight_decay=0.3, reg_power=2.5
        ).resolved()
    Ua, Wa = U.clone().requires_grad_(True), W.clone().requires_grad_(True)
    if optimizer == "margin":
        method = methods.MarginMethod(
            U.clone(), W.clone(), config, gamma_star=gamma_star(p, k), generator=torch.Generator()
        )
        # MarginMethod projects onto the sphere at construction: differentiate there
        Ua = method.U.clone().requires_grad_(True)
        Wa = method.W.clone().requires_grad_(True)
        z = model.logits(Ua, Wa, batch) * (method.scale / model.norm_power(Ua, Wa))
        objective = functional.cross_entropy(z, batch.labels) / method.optimum
    else:
        penalty = model.norm_power(Ua, Wa) ** (2.5 / (k + 1))
        objective = functional.cross_entropy(model.logits(Ua, Wa, batch), batch.labels)
        objective = objective + 0.3 * penalty
    objective.backward()
    assert Ua.grad is not None and Wa.grad is not None
    captured: dict[str, torch.Tensor] = {}
    if optimizer == "margin":
        # one step with lr -> its Adam update; recover the gradient from the first moment
        method.moments = {
            name: (torch.zeros_like(x), torch.zeros_like(x)) for name, x in method.params.items()
        }
        before = {name: x.clone() for name, x in method.params.items()}
        value = method.step(0, batch)
        for name in ("U", "W"):
            captured[name] = method.moments[name][0] / (1 - methods.BETAS[0])
        del before
    else:
        gd = methods.GradientDescent(U.clone(), W.clone(), config)
        before_U, before_W = gd.U.clone(), gd.W.clone()
        value = gd.step(0, batch)
        lr = gd.lr(0)
        captured["U"] = (before_U - gd.U) / lr
        captured["W"] = (before_W - gd.W) / lr
    assert value == pytest.approx(float(objective.detach()), rel=1e-12)
    assert _relative(captured["U"], Ua.grad) < 1e-9
    assert _relative(captured["W"], Wa.grad) < 1e-9


def test_chunk_rows_depends_only_on_width_dtype_and_device() -> None:
    """Determinism: the chunking (hence the summation order) does not depend on the threads."""
    rows = chunks.chunk_rows(480, 8)
    assert rows == chunks.CHUNK_BYTES // (480 * 8)
    assert chunks.chunk_rows(480, 4) == 2 * rows
    assert chunks.chunk_rows(10**9, 8) == chunks.MIN_ROWS
    assert chunks.chunk_rows(480, 8, cuda=True) == chunks.CUDA_CHUNK_BYTES // (480 * 8)


def test_float32_gradient_near_the_max_margin_network_keeps_its_digits() -> None:
    """At the analytic max-margin network with every gap T = 20, the wrong labels' softmax share
    is ~(p-1) e^-20 ~ 8e-9, below float32's resolution near 1: the kernel forms the loss and the
    label's gradient from that share itself and agrees with float64 to ~1e-6, where plain float32
    cross-entropy (negative control) rounds the loss to 0 and the gradient is off by ~100%."""
    from fourier_circuits.constructions import construct

    net = construct(5, 2).normalized()
    scale = 20.0 / gamma_star(5, 2)
    batch = model.make_batch(all_inputs(Task(5, 2)), 5, device=torch.device("cpu"))
    U64, W64 = torch.tensor(net.U), torch.tensor(net.W)
    exact = kernel.ce_gradients(U64, W64, batch.inputs, batch.labels, scale=scale)
    single = kernel.ce_gradients(U64.float(), W64.float(), batch.inputs, batch.labels, scale=scale)
    assert single.loss == pytest.approx(exact.loss, rel=1e-5)
    assert _relative(single.dU.double(), exact.dU) < 1e-4
    assert _relative(single.dW.double(), exact.dW) < 1e-4
    loss, dU, dW, _ = _autograd(U64.float(), W64.float(), batch, scale)
    assert loss == 0.0
    assert _relative(dU.double(), exact.dU) > 0.5 and _relative(dW.double(), exact.dW) > 0.5
