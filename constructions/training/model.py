"""The network of eq. 2 of arXiv 2402.09469 in PyTorch, and its conversion to a theory.PolyNet.

    f(theta, a)[c] = sum_{i=1..m} ( sum_{j=1..k} U[i, j, a_j] )^k * W[i, c]

U: (m, k, p), W: (m, p), exactly theory.PolyNet's layout, so the trained weights are measured by
the theory module (float64 numpy) and never by this file. Here only what training needs: logits of
a batch, ||theta_i||, ||theta||_{2,k+1}^(k+1), the data tensors and the initialisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from fourier_circuits.theory import FourierCircuitsError, PolyNet, Task, all_inputs, labels


def torch_dtype(name: str) -> torch.dtype:
    return {"float64": torch.float64, "float32": torch.float32}[name]


def resolve_device(name: str) -> torch.device:
    """torch.device(name), refusing cuda when this torch has no CUDA device."""
    if name == "cuda" and not torch.cuda.is_available():
        raise FourierCircuitsError(
            "device='cuda' but torch.cuda.is_available() is False (this torch build or machine "
            "has no CUDA device); use device='cpu'"
        )
    return torch.device(name)


@dataclass(frozen=True)
class Batch:
    """Inputs (N, k) and their labels (N,), int64 on the device."""

    inputs: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def make_batch(inputs: np.ndarray[Any, Any], p: int, *, device: torch.device) -> Batch:
    """A Batch of the given inputs (N, k); labels y = (a_1 + ... + a_k) mod p."""
    # torch.tensor copies: the inputs may be read-only numpy arrays (theory returns such)
    a = torch.tensor(np.asarray(inputs), dtype=torch.int64, device=device)
    y = torch.tensor(labels(inputs, p), dtype=torch.int64, device=device)
    return Batch(a, y)


def select(batch: Batch, index: torch.Tensor) -> Batch:
    """The examples `index` of a batch (a mini-batch)."""
    return Batch(batch.inputs[index], batch.labels[index])


def data_split(
    task: Task, train_fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """(train, test) inputs: all of D_p and nothing when train_fraction = 1, else a uniformly
    random subset of round(train_fraction p^k) examples (at least 1) and the rest."""
    everything = all_inputs(task)
    n = everything.shape[0]
    if train_fraction >= 1.0:
        return everything, everything[:0]
    n_train = min(max(round(train_fraction * n), 1), n)
    order = rng.permutation(n)
    train = np.sort(order[:n_train])
    test = np.sort(order[n_train:])
    return everything[train], everything[test]


def init_weights(
    m: int, k: int, p: int, *, scale: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """U: (m, k, p), W: (m, p) with i.i.d. N(0, scale^2 / p) entries (each length-p vector has
    norm ~ scale), drawn in float64 on the CPU so a seed gives the same network on every device."""
    std = scale / np.sqrt(p)
    U = torch.randn((m, k, p), generator=generator, dtype=torch.float64) * std
    W = torch.randn((m, p), generator=generator, dtype=torch.float64) * std
    return U, W


def hidden(U: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Pre-activations z_i(a) = sum_j U[i, j, a_j], shape (N, m), by gathering rows of U."""
    k = U.shape[1]
    table = U.permute(1, 2, 0)  # (k, p, m)
    Z = table[0][batch.inputs[:, 0]]
    for j in range(1, k):
        Z = Z + table[j][batch.inputs[:, j]]
    return Z


def logits(U: torch.Tensor, W: torch.Tensor, batch: Batch) -> torch.Tensor:
    """f(theta, a) for the batch, shape (N, p) (eq. 2): the forward pass of training.kernel,
    written plainly (and differentiable), for tests and for measuring with torch."""
    k = U.shape[1]
    return hidden(U, batch).pow(k) @ W


def neuron_norms_sq(U: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """||theta_i||_2^2 = sum_j ||U[i, j]||^2 + ||W[i]||^2, shape (m,)."""
    return U.square().sum(dim=(1, 2)) + W.square().sum(dim=1)


def norm_power(U: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """||theta||_{2,k+1}^(k+1) = sum_i ||theta_i||^(k+1): the denominator of the normalized
    margin (Def 3.4), and by (k+1)-homogeneity the factor by which theta scales the logits."""
    k = U.shape[1]
    return neuron_norms_sq(U, W).pow((k + 1) / 2).sum()


def to_polynet(U: torch.Tensor, W: torch.Tensor, meta: dict[str, Any] | None = None) -> PolyNet:
    """The weights as a float64 theory.PolyNet (validated: finite, right shapes)."""
    return PolyNet(
        U.detach().to("cpu", torch.float64).numpy(),
        W.detach().to("cpu", torch.float64).numpy(),
        meta or {},
    )
