"""The paper's network (eq. 2 of arXiv 2402.09469) as a frozen, validated value.

    f(theta, a)[c] = sum_{i=1..m} ( sum_{j=1..k} U[i, j, a_j] )^k * W[i, c]

U: (m, k, p) input weights u_{i,j}; W: (m, p) output weights w_i; no biases. The activation z^k
makes f (k+1)-homogeneous: f(alpha * theta) = alpha^(k+1) f(theta).
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from threadpoolctl import threadpool_limits

from fourier_circuits.theory.errors import FourierCircuitsError
from fourier_circuits.theory.task import (
    IntArray,
    Task,
    default_chunk_rows,
    lex_digits,
    require_enumerable,
)

FloatArray = npt.NDArray[np.float64]
T = TypeVar("T")

# Bytes of pre-activations handled per element-wise block in the streaming evaluation: a block
# and its scratch (2 x 256 KiB) stay in a core's L2 cache between the add and the power's
# multiplications; measured 10-15% faster than whole chunks at p = 97, k = 3, m = 1536.
_BLOCK_BYTES = 2**18


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _as_float64(name: str, value: Any, ndim: int) -> FloatArray:
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as err:  # ragged nested lists, unconvertible objects
        raise FourierCircuitsError(f"{name} cannot be read as an array: {err}") from None
    if array.dtype.kind not in "fiu" or array.dtype == np.bool_:
        raise FourierCircuitsError(
            f"{name} has dtype {array.dtype}; it must hold real numbers (stored as float64)"
        )
    if array.ndim != ndim:
        raise FourierCircuitsError(f"{name} has shape {array.shape}; it must have {ndim} axes")
    array = np.array(array, dtype=np.float64, copy=True)
    if not np.all(np.isfinite(array)):
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise FourierCircuitsError(f"{name} holds {bad} non-finite values (NaN or inf)")
    array.setflags(write=False)
    return array


def _one_line(err: BaseException) -> str:
    """The message of err on one line (the CLI prints errors as a single line)."""
    return " ".join(str(err).split())


def _optional_positive_int(name: str, value: Any) -> int | None:
    """None, or value as an int >= 1 (chunk sizes and thread counts)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise FourierCircuitsError(f"{name}={value!r} must be a positive integer (or None)")
    return int(value)


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (/proc), else by the
    set-and-restore idiom."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _power_inplace(Z: FloatArray, k: int, scratch: FloatArray) -> None:
    """Z <- Z^k in place by binary exponentiation (np.power with an integer exponent is slower).

    scratch (same shape) holds z^(2^t) while Z accumulates the product of the needed powers.
    """
    if k == 2:
        np.multiply(Z, Z, out=Z)
        return
    if k == 3:
        np.multiply(Z, Z, out=scratch)
        np.multiply(Z, scratch, out=Z)
        return
    np.copyto(scratch, Z)
    if k % 2 == 0:
        Z.fill(1.0)
    e = k >> 1
    while e:
        np.multiply(scratch, scratch, out=scratch)
        if e & 1:
            np.multiply(Z, scratch, out=Z)
        e >>= 1


@dataclass(frozen=True)
class LogitChunk:
    """A block of D_p: inputs start..start+len-1 (lexicographic), their labels and logits."""

    start: int
    labels: IntArray  # (B,)
    logits: FloatArray  # (B, p)


@dataclass(frozen=True, eq=False)
class PolyNet:
    """One-hidden-layer network with activation z^k (paper eq. 2). Float64, finite, read-only.

    U: (m, k, p) input weights, one length-p vector per (neuron i, summand j).
    W: (m, p) output weights.
    """

    U: FloatArray
    W: FloatArray
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        U = _as_float64("U", self.U, 3)
        W = _as_float64("W", self.W, 2)
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
        object.__setattr__(self, "meta", dict(self.meta))

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
        return PolyNet(alpha * self.U, alpha * self.W, self.meta)

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

    # --- evaluation ----------------------------------------------------------------------------
    def check_inputs(self, inputs: Any) -> IntArray:
        """Validate a batch of inputs: integers in [0, p), shape (N, k)."""
        a = np.asarray(inputs)
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
        a = self.check_inputs(inputs)
        UT = np.ascontiguousarray(self.U.transpose(1, 2, 0))  # (k, p, m)
        Z = np.zeros((a.shape[0], self.m))
        for j in range(self.k):
            Z += UT[j][a[:, j]]
        return Z

    def logits(self, inputs: Any, *, chunk_rows: int | None = None) -> FloatArray:
        """f(theta, a) for a batch of inputs (N, k) -> (N, p), in chunks of bounded memory."""
        a = self.check_inputs(inputs)
        rows = _optional_positive_int("chunk_rows", chunk_rows) or default_chunk_rows(
            self.task, self.m
        )
        out = np.empty((a.shape[0], self.p))
        for s in range(0, a.shape[0], rows):
            Z = self.hidden(a[s : s + rows])
            _power_inplace(Z, self.k, np.empty_like(Z))
            np.matmul(Z, self.W, out=out[s : s + rows])
        return out

    def iter_logits(self, *, chunk_rows: int | None = None) -> Iterator[LogitChunk]:
        """Logits over all of D_p in lexicographic order, lazily, chunk by chunk.

        Memory stays O(chunk_rows * m) whatever p^k is; see map_chunks for the parallel form.
        Arguments and the size of D_p are checked on the call, not at the first chunk.
        """
        ((first, count, per),) = self._prefix_ranges(chunk_rows, parts=1)
        return self._chunk_range(first, count, per)

    def map_chunks(
        self,
        fn: Callable[[LogitChunk], T],
        *,
        chunk_rows: int | None = None,
        workers: int | None = None,
    ) -> list[T]:
        """[fn(chunk) for chunk in iter_logits()], computed by `workers` threads.

        Each thread takes a contiguous range of D_p and runs single-threaded BLAS, so the
        element-wise work (the power z^k) runs in parallel with the matrix products instead of
        serialising between them; numpy releases the GIL in both. Results come back in order.
        """
        requested = _optional_positive_int("workers", workers) or _cpu_count()
        n_workers = min(requested, self.p ** (self.k - 1))
        if n_workers == 1:
            return [fn(chunk) for chunk in self.iter_logits(chunk_rows=chunk_rows)]
        ranges = self._prefix_ranges(chunk_rows, parts=n_workers)

        def run(block: tuple[int, int, int]) -> list[T]:
            return [fn(chunk) for chunk in self._chunk_range(*block)]

        with threadpool_limits(limits=1), ThreadPoolExecutor(n_workers) as pool:
            parts = list(pool.map(run, ranges))
        return [result for part in parts for result in part]

    def _prefix_ranges(self, chunk_rows: int | None, *, parts: int) -> list[tuple[int, int, int]]:
        """Split the p^(k-1) prefixes (a_1..a_{k-1}) into `parts` contiguous ranges
        (first prefix, number of prefixes, prefixes per chunk)."""
        task = self.task
        require_enumerable(task, work_per_example=2.0 * self.m * self.p)
        rows = _optional_positive_int("chunk_rows", chunk_rows) or default_chunk_rows(task, self.m)
        per = max(rows // self.p, 1)
        n_prefix = self.p ** (self.k - 1)
        bounds = [n_prefix * i // parts for i in range(parts + 1)]
        return [(bounds[i], bounds[i + 1] - bounds[i], per) for i in range(parts)]

    def _chunk_range(self, first: int, count: int, per: int) -> Iterator[LogitChunk]:
        """Chunks for prefixes first..first+count-1: each is P whole prefixes times all p values
        of a_k, so z = S[prefix] + U[:, k-1, a_k] is a broadcast add.

        The add and the power z^k run block by block on about _BLOCK_BYTES of z at a time, so
        each block is still in the core's cache for the next pass (three passes for k = 3);
        one matrix product per chunk then gives the logits.
        """
        p, k, m = self.p, self.k, self.m
        UT = np.ascontiguousarray(self.U.transpose(1, 2, 0))  # (k, p, m)
        U_last = UT[k - 1]  # (p, m): the contribution of a_k
        last = np.arange(p, dtype=np.int64)
        P_max = min(per, max(count, 1))
        Z = np.empty((P_max, p, m))  # (P, p, m) pre-activations, then activations
        fit = max(1, _BLOCK_BYTES // (8 * m))  # rows of z per element-wise block
        G = fit // p  # whole prefixes per block (0: split each prefix into blocks of `fit`)
        scratch = np.empty((min(G, P_max), p, m) if G else (fit, m))
        for lo in range(first, first + count, per):
            P = min(per, first + count - lo)
            prefixes = lex_digits(lo, lo + P, p=p, n_digits=k - 1)  # (P, k-1)
            S = UT[0][prefixes[:, 0]]  # (P, m)
            for j in range(1, k - 1):
                S = S + UT[j][prefixes[:, j]]
            z = Z[:P]
            if G:
                for g0 in range(0, P, G):
                    block = z[g0 : g0 + G]  # (G', p, m)
                    np.add(S[g0 : g0 + G, None, :], U_last[None, :, :], out=block)
                    _power_inplace(block, k, scratch[: len(block)])
            else:
                for q in range(P):
                    for a0 in range(0, p, fit):
                        block = z[q, a0 : a0 + fit]  # (rows, m)
                        np.add(S[q], U_last[a0 : a0 + fit], out=block)
                        _power_inplace(block, k, scratch[: len(block)])
            logits = z.reshape(P * p, m) @ self.W  # (P*p, p)
            y = (prefixes.sum(axis=1)[:, None] + last[None, :]) % p
            yield LogitChunk(lo * p, y.reshape(-1), logits)

    # --- files (the format of DESIGN.md) -----------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write U, W, p, k and meta (JSON) to an .npz, atomically: nothing half-written.

        The data go to a temporary file beside the target, which is renamed over it only when
        complete; on any failure (or interrupt) the temporary file is removed.
        """
        target = Path(path)
        try:
            meta_json = json.dumps(self.meta, sort_keys=True)
        except (TypeError, ValueError) as err:
            raise FourierCircuitsError(f"meta is not JSON-serialisable: {err}") from None
        directory = target.parent if str(target.parent) else Path(".")
        if not directory.is_dir():
            raise FourierCircuitsError(
                f"cannot save to {str(target)!r}: {str(directory)!r} is not a directory"
            )
        fd, tmp = -1, ""
        try:
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".tmp")
            # mkstemp creates the file 0600; give it the mode open() would (0666 less umask)
            os.fchmod(fd, 0o666 & ~_umask())
            with os.fdopen(fd, "wb") as fh:
                fd = -1
                np.savez(
                    fh,
                    U=self.U,
                    W=self.W,
                    p=np.int64(self.p),
                    k=np.int64(self.k),
                    meta=np.str_(meta_json),
                )
            os.replace(tmp, target)
        except BaseException as err:
            if fd >= 0:
                os.close(fd)
            if tmp and os.path.exists(tmp):
                os.unlink(tmp)
            if isinstance(err, OSError):
                raise FourierCircuitsError(
                    f"cannot save to {str(target)!r}: {err.strerror or err}"
                ) from None
            raise
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> PolyNet:
        """Read a network saved in the format of DESIGN.md (allow_pickle=False), validated."""
        source = Path(path)
        where = f"cannot load {str(source)!r}"
        if source.is_dir():
            raise FourierCircuitsError(f"{where}: no such file (it is a directory)")
        if not source.is_file():
            raise FourierCircuitsError(f"{where}: no such file")
        try:
            # open the file here: np.load leaks its own handle when the zip is truncated
            with open(source, "rb") as fh:
                data = np.load(fh, allow_pickle=False)
                if not isinstance(data, np.lib.npyio.NpzFile):  # a bare .npy array
                    raise FourierCircuitsError(
                        f"{where}: it holds a single .npy array, not an .npz archive"
                    )
                with data:
                    missing = [key for key in ("U", "W", "p", "k") if key not in data.files]
                    if missing:
                        raise FourierCircuitsError(
                            f"{where}: it lacks the arrays {missing}; "
                            "a network file holds U, W, p, k"
                        )
                    arrays = {
                        key: data[key] for key in ("U", "W", "p", "k", "meta") if key in data.files
                    }
        except FourierCircuitsError:
            raise
        except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError, zlib.error) as err:
            raise FourierCircuitsError(f"{where}: not a valid .npz ({_one_line(err)})") from None
        except Exception as err:
            # A foreign file reaches zipfile's and numpy's parsers, whose failures on corrupt
            # input are not all ValueErrors (measured by flipping bytes of a valid file:
            # NotImplementedError "zip file version 7.9", tokenize.TokenError from the .npy
            # header, MemoryError from a forged shape); every one means "not a network file".
            raise FourierCircuitsError(
                f"{where}: not a valid .npz ({type(err).__name__}: {_one_line(err)})"
            ) from None
        for key, value in arrays.items():
            if not isinstance(value, np.ndarray):  # NpzFile returns raw bytes for non-.npy
                raise FourierCircuitsError(f"{where}: member {key!r} is not a .npy array")
        U, W, p, k = arrays["U"], arrays["W"], arrays["p"], arrays["k"]
        meta_raw = str(arrays["meta"]) if "meta" in arrays else "{}"
        try:
            meta = json.loads(meta_raw)
        except json.JSONDecodeError as err:
            raise FourierCircuitsError(
                f"{where}: meta is not valid JSON ({_one_line(err)})"
            ) from None
        if not isinstance(meta, dict):
            raise FourierCircuitsError(f"{where}: meta must be a JSON object")
        for name, value in (("p", p), ("k", k)):
            if np.ndim(value) != 0 or value.dtype.kind not in "iu":
                raise FourierCircuitsError(
                    f"{where}: stored {name}={value!r} must be a single integer"
                )
        try:
            net = cls(U, W, meta)
        except FourierCircuitsError as err:
            raise FourierCircuitsError(f"{where}: {err}") from None
        if (int(p), int(k)) != (net.p, net.k):
            raise FourierCircuitsError(
                f"{where}: stored p={int(p)}, k={int(k)} do not match U of shape "
                f"{net.U.shape} = (m, k, p)"
            )
        return net
