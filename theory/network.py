"""The paper's network (eq. 2 of arXiv 2402.09469) as a frozen, validated value.

    f(theta, a)[c] = sum_{i=1..m} ( sum_{j=1..k} U[i, j, a_j] )^k * W[i, c]

U: (m, k, p) input weights u_{i,j}; W: (m, p) output weights w_i; no biases. The activation z^k
makes f (k+1)-homogeneous: f(alpha * theta) = alpha^(k+1) f(theta).

PolyNet is the value: validated weights, sizes, norms and transformations. Its evaluation methods
call theory.evaluation (the chunked, threaded engine) and save/load call theory.network_file (the
.npz format of DESIGN.md).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

import fourier_circuits.theory.evaluation as evaluation
import fourier_circuits.theory.network_file as network_file
from fourier_circuits.theory._validation import FloatArray, check_array
from fourier_circuits.theory.errors import FourierCircuitsError
from fourier_circuits.theory.evaluation import LogitChunk
from fourier_circuits.theory.task import IntArray, Task

__all__ = ["FloatArray", "LogitChunk", "PolyNet"]

T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class PolyNet:
    """One-hidden-layer network with activation z^k (paper eq. 2). Float64, finite, read-only.

    U: (m, k, p) input weights, one length-p vector per (neuron i, summand j).
    W: (m, p) output weights.
    meta: a dict saying how the network was made (saved as JSON; at most
    network_file.MAX_META_DEPTH levels deep; values JSON cannot hold are refused when saving).
    """

    U: FloatArray
    W: FloatArray
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.meta, Mapping):
            raise FourierCircuitsError(
                f"meta is a {type(self.meta).__name__}; it must be a dict (a JSON object saying "
                "how the network was made)"
            )
        meta = dict(self.meta)
        network_file.check_meta_depth(meta)
        U = check_array("U", self.U, ndim=3)
        W = check_array("W", self.W, ndim=2)
        m, k, p = U.shape
        if m < 1:
            raise FourierCircuitsError(f"U has shape {U.shape}; a network needs m >= 1 neurons")
        Task(p, k)  # validates p (odd, >= 3) and k (>= 2) with their own messages
        if W.shape != (m, p):
            raise FourierCircuitsError(
                f"W has shape {W.shape}; with U of shape (m, k, p) = {U.shape} it must be {(m, p)}"
            )
        object.__setattr__(self, "U", U)
        object.__setattr__(self, "W", W)
        object.__setattr__(self, "meta", meta)

    # --- sizes -------------------------------------------------------------------------------
    @property
    def m(self) -> int:
        return int(self.U.shape[0])

    @property
    def k(self) -> int:
        return int(self.U.shape[1])

    @property
    def p(self) -> int:
        return int(self.U.shape[2])

    @property
    def task(self) -> Task:
        return Task(self.p, self.k)

    # --- norms (Section 3) ---------------------------------------------------------------------
    def neuron_norms(self) -> FloatArray:
        """||theta_i||_2 = sqrt(sum_j ||U[i, j]||^2 + ||W[i]||^2), shape (m,)."""
        sq = np.einsum("ijp,ijp->i", self.U, self.U) + np.einsum("ip,ip->i", self.W, self.W)
        return np.sqrt(sq)

    def norm(self) -> float:
        """||theta||_{2,k+1} = (sum_i ||theta_i||_2^(k+1))^(1/(k+1))."""
        return float(np.sum(self.neuron_norms() ** (self.k + 1)) ** (1.0 / (self.k + 1)))

    # --- transformations -------------------------------------------------------------------
    def scaled(self, alpha: float) -> PolyNet:
        """theta -> alpha * theta (every weight); logits scale by alpha^(k+1)."""
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.integer, np.floating)):
            raise FourierCircuitsError(f"alpha={alpha!r} must be a real number")
        try:
            factor = float(alpha)
        except OverflowError:  # an int beyond float64
            factor = float("inf")
        if not np.isfinite(factor):
            raise FourierCircuitsError(f"alpha={alpha!r} must be a finite real number")
        return PolyNet(factor * self.U, factor * self.W, self.meta)

    def normalized(self) -> PolyNet:
        """theta / ||theta||_{2,k+1}, so that the norm is 1."""
        nrm = self.norm()
        if nrm == 0.0:
            raise FourierCircuitsError("the network is zero; it cannot be normalised")
        return self.scaled(1.0 / nrm)

    def select(self, neurons: Any) -> PolyNet:
        """The sub-network of the given neurons (an index array or boolean mask)."""
        try:
            idx = np.arange(self.m)[np.asarray(neurons)]
        except IndexError as err:
            raise FourierCircuitsError(
                f"select(): neurons must index the m={self.m} neurons ({err})"
            ) from None
        if idx.size == 0:
            raise FourierCircuitsError("select() kept no neurons; a network needs m >= 1")
        return PolyNet(self.U[idx], self.W[idx], self.meta)

    def with_meta(self, **meta: Any) -> PolyNet:
        return PolyNet(self.U, self.W, {**self.meta, **meta})

    # --- evaluation (theory.evaluation) -------------------------------------------------------
    def check_inputs(self, inputs: Any) -> IntArray:
        """Validate a batch of inputs: integers in [0, p), shape (N, k)."""
        try:
            a = np.asarray(inputs)
        except (TypeError, ValueError) as err:  # ragged nested lists, unconvertible objects
            raise FourierCircuitsError(f"inputs cannot be read as an array: {err}") from None
        if a.ndim != 2 or a.shape[1] != self.k:
            raise FourierCircuitsError(
                f"inputs have shape {a.shape}; they must have shape (N, k) = (N, {self.k})"
            )
        if a.size and (a.dtype.kind not in "iu"):
            raise FourierCircuitsError(f"inputs have dtype {a.dtype}; they must be integers")
        a = a.astype(np.int64, copy=False)
        if a.size and (a.min() < 0 or a.max() >= self.p):
            raise FourierCircuitsError(
                f"inputs range over [{a.min()}, {a.max()}]; they must lie in [0, p) = [0, {self.p})"
            )
        return a

    def hidden(self, inputs: Any) -> FloatArray:
        """Pre-activations z_i(a) = sum_j U[i, j, a_j], shape (N, m)."""
        return evaluation.hidden(self.U, self.check_inputs(inputs))

    def logits(self, inputs: Any, *, chunk_rows: int | None = None) -> FloatArray:
        """f(theta, a) for a batch of inputs (N, k) -> (N, p), in chunks of bounded memory."""
        return evaluation.logits(self.U, self.W, self.check_inputs(inputs), chunk_rows=chunk_rows)

    def iter_logits(self, *, chunk_rows: int | None = None) -> Iterator[LogitChunk]:
        """Logits over all of D_p in lexicographic order, lazily, chunk by chunk.

        Memory stays O(chunk_rows * m) whatever p^k is; see map_chunks for the parallel form.
        Arguments and the size of D_p are checked on the call, not at the first chunk.
        """
        return evaluation.iter_logits(self.U, self.W, chunk_rows=chunk_rows)

    def map_chunks(
        self,
        fn: Callable[[LogitChunk], T],
        *,
        chunk_rows: int | None = None,
        workers: int | None = None,
    ) -> list[T]:
        """[fn(chunk) for chunk in iter_logits()], computed by `workers` threads (default: the
        CPUs this process may use), each on a contiguous range of D_p; results come back in
        order (theory.evaluation.map_chunks)."""
        return evaluation.map_chunks(self.U, self.W, fn, chunk_rows=chunk_rows, workers=workers)

    # --- files (theory.network_file, the format of DESIGN.md) -------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write U, W, p, k and meta (JSON) to an .npz, atomically: nothing half-written.

        The data go to a temporary file beside the target, which is renamed over it only when
        complete; on any failure (or interrupt) the temporary file is removed.
        """
        return network_file.save_network(path, self.U, self.W, self.meta)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> PolyNet:
        """Read a network saved in the format of DESIGN.md (allow_pickle=False), validated."""
        return network_file.load_network(path, cls)
