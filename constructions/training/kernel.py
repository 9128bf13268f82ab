"""The cross-entropy of eq. 2's network and its gradient, written out by hand and run in chunks.

For a batch of inputs a (N, k) with labels y, a logit scale s and the network
    f(theta, a)[c] = sum_i z_i(a)^k W[i, c],  z_i(a) = sum_j U[i, j, a_j]  (eq. 2, arXiv 2402.09469)
the loss L = (1/N) sum_n CE(s f(theta, a_n), y_n) has the explicit gradient
    G   = (softmax(s f) - onehot(y)) / N                          dL/d(s f), (N, p)
    dW  = s H^T G,                      H = z^k                   (m, p)
    dZ  = k z^(k-1) * (s G W^T)                                   (N, m)
    dU[i, j, a] = sum_{n: a_{n,j} = a} dZ[n, i]                   a scatter-add, (m, k, p)
    dL/ds = sum_n sum_c G[n, c] f[n, c]
so a step costs three (N x m) @ (m x p) products (H W, H^T G, G W^T), k gathers and k scatter-adds
of rows of U, and a handful of element-wise passes over (N, m). autograd computes the same numbers
(to rounding; tests/test_training_kernel.py checks it) but about five times slower at (31, 3): its
generic backward of pow recomputes z^(k-1) with pow and multiplies twice, the one-hot hidden layer
costs two products with k p columns, and every (N, m) intermediate lives in memory at once, so
each pass streams it from RAM. Here the examples run in chunks (training.chunks: 4 MiB of hidden
layer), which stay in the processor's cache between the passes over them (measured in
docs/training.md), and memory stays bounded by the chunk, whatever N is.

Determinism: the chunks depend only on (N, m, dtype, device), never on the threads, and inside a
chunk every operation is deterministic on the CPU (index_add_ included), so a seed gives the same
numbers run after run (BLAS may round the products differently on another number of threads); on
CUDA, torch's deterministic mode (training.loop.thread_limit) makes index_add_ deterministic.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import torch

from fourier_circuits.constructions.training.chunks import chunk_rows

#: The softmax's exponents x - max(x) are clamped from below at this value, so that its entries
#: and their products with the hidden layer stay normal floating-point numbers: arithmetic on
#: denormals (below 2.2e-308 in float64, 1.2e-38 in float32) is ~20 times slower on the CPU, and
#: flushing them (torch.set_flush_denormal) reaches only the calling thread, not torch's other
#: threads (measured: a (4000, 480) product with denormals, 2 threads, 55 ms against 3.5 ms).
#: In a trained network most wrong-label exponents are far below zero, so without the clamp a
#: step at (31, 3) slowed from 0.1 s to 0.7 s. The clamp adds at most p e^floor to a sum that is
#: at least 1 (the largest entry is e^0): e^-600 ~ 1e-261 in float64, e^-60 ~ 9e-27 in float32.
SOFTMAX_LOG_FLOOR = {torch.float64: -600.0, torch.float32: -60.0}


@dataclass(frozen=True)
class CEGradients:
    """loss = (1/N) sum_n CE(s f(theta, a_n), y_n) and its gradient (module docstring)."""

    loss: float
    dU: torch.Tensor  # noqa: N815 (the paper's U)  (m, k, p)
    dW: torch.Tensor  # noqa: N815 (the paper's W)  (m, p)
    dscale: float  # dL/ds


def ce_gradients(
    U: torch.Tensor,
    W: torch.Tensor,
    inputs: torch.Tensor,
    labels: torch.Tensor,
    *,
    scale: float,
    workers: int = 1,
) -> CEGradients:
    """The mean cross-entropy of s f(theta, a) over the batch and its gradient (module docstring).

    U: (m, k, p), W: (m, p) in one floating dtype on one device; inputs (N, k) and labels (N,)
    int64 on the same device. Nothing is recorded for autograd. workers > 1 splits the chunks
    into that many contiguous groups, each summed by its own Python thread (torch releases the
    GIL inside its operations), and adds the groups' sums in order: the same numbers for the
    same `workers`, whatever the machine is doing. Training runs torch on one thread and the
    kernel on `threads` workers (training.loop): with torch's own threads, each of the ~30
    operations of a chunk ends in a barrier where the threads wait for each other, and while
    other processes load the cores a descheduled thread stalls the rest at every barrier.
    Measured at (31, 3), float64, load 8.8 on 2 cores: 4.0-10 s a step on 2 torch threads, 0.49 s
    on one, 0.56 s on two workers of one torch thread each (unloaded: docs/training.md).
    """
    m = int(U.shape[0])
    n = int(inputs.shape[0])
    rows = chunk_rows(m, torch.finfo(U.dtype).bits // 8, cuda=U.device.type == "cuda")
    starts = list(range(0, n, rows))
    size = -(-len(starts) // max(workers, 1))  # chunks per group, rounded up
    groups = [starts[i : i + size] for i in range(0, len(starts), size)]
    with torch.no_grad():
        T = U.detach().permute(1, 2, 0).contiguous()  # (k, p, m): T[j, a] = U[:, j, a]
        Wd = W.detach()
        Wt = Wd.T.contiguous()  # (p, m)

        def run(group: list[int]) -> _Sums:
            return _sums(T, Wd, Wt, inputs, labels, group, rows, scale)

        if len(groups) == 1:
            parts = [run(groups[0])]
        else:
            with ThreadPoolExecutor(len(groups), thread_name_prefix="kernel") as pool:
                parts = list(pool.map(run, groups))
        total = parts[0]
        for part in parts[1:]:
            total.add(part)
        # (k, p, m) -> (m, k, p); the 1/N of the mean applied once
        return CEGradients(
            loss=float(total.loss) / n,
            dU=total.dT.permute(2, 0, 1).contiguous().div_(n),
            dW=total.dW.div_(n),
            dscale=float(total.dscale) / n,
        )


@dataclass
class _Sums:
    """One group's sums over its examples: of CE, of its gradient (dT = dU as (k, p, m)), and of
    G * f (dL/ds)."""

    loss: torch.Tensor
    dT: torch.Tensor  # noqa: N815 (the paper's U, transposed)
    dW: torch.Tensor  # noqa: N815 (the paper's W)
    dscale: torch.Tensor

    def add(self, other: _Sums) -> None:
        self.loss += other.loss
        self.dT += other.dT
        self.dW += other.dW
        self.dscale += other.dscale


def _sums(
    T: torch.Tensor,
    W: torch.Tensor,
    Wt: torch.Tensor,
    inputs: torch.Tensor,
    labels: torch.Tensor,
    starts: list[int],
    rows: int,
    scale: float,
) -> _Sums:
    """The sums of the chunks beginning at `starts` (module docstring's formulas)."""
    k = int(T.shape[0])
    floor = SOFTMAX_LOG_FLOOR[T.dtype]
    sums = _Sums(
        loss=torch.zeros((), dtype=T.dtype, device=T.device),
        dT=torch.zeros_like(T),
        dW=torch.zeros_like(W),
        dscale=torch.zeros((), dtype=T.dtype, device=T.device),
    )
    for lo in starts:
        a = inputs[lo : lo + rows]  # (B, k)
        y = labels[lo : lo + rows, None]  # (B, 1)
        Z = T[0].index_select(0, a[:, 0])  # (B, m): z_i(a) = sum_j U[i, j, a_j]
        for j in range(1, k):
            Z.add_(T[j].index_select(0, a[:, j]))
        Zk1 = Z.pow(k - 1) if k > 2 else Z  # z^(k-1)
        H = Zk1 * Z  # z^k
        f = H @ W  # (B, p)
        logit = f * scale
        # CE(x, y) = logsumexp(x) - x_y;  d CE / dx = softmax(x) - onehot(y). The exponents
        # x - max x are clamped at `floor` so that no denormal number arises (SOFTMAX_LOG_FLOOR).
        # Near a max-margin network the wrong labels' share `others` is ~(p-1) e^-T: 1 - softmax_y
        # and log(1 + others) would round it away (float32 keeps 7 digits: at T = 20 training
        # stalled at margin ratio 0.83), so both are formed from `others` itself
        top = logit.amax(dim=1, keepdim=True)
        E = torch.exp_(logit.sub(top).clamp_(min=floor))  # (B, p), entries in [e^floor, 1]
        E_y = E.gather(1, y)
        others = E.scatter_(1, y, 0.0).sum(dim=1, keepdim=True)  # sum over c != y
        total = others + E_y  # >= 1: the largest entry is e^0
        x_y = logit.gather(1, y)
        # x_y the largest: CE = log(1 + others) exactly (E_y = 1); else top - x_y + log(total)
        ce = torch.where(x_y >= top, torch.log1p(others), top - x_y + total.log())
        sums.loss += ce.sum()
        G = E.div_(total)  # softmax off the label, 0 on it
        G.scatter_(1, y, others.div_(total).neg_())  # softmax_y - 1 = -others / total
        # dL/ds = sum_c G_c f_c = sum_c G_c (f_c - f_y), as sum_c G_c = 0 (no cancellation)
        sums.dscale += (G * (f - f.gather(1, y))).sum()
        G.mul_(scale)  # dL/df, times N
        sums.dW.addmm_(H.T, G)  # dW += H^T G
        dZ = torch.mm(G, Wt, out=H)  # dL/dH = G W^T, written over H (no longer needed)
        dZ.mul_(Zk1).mul_(k)  # d z^k / dz = k z^(k-1)
        for j in range(k):
            sums.dT[j].index_add_(0, a[:, j], dZ)  # dU[:, j, a] += dZ[n] for a_{n,j} = a
    return sums
