"""Evaluating the paper's network (eq. 2 of arXiv 2402.09469) on batches and on all of D_p.

    z_i(a) = sum_{j=1..k} U[i, j, a_j],      f(theta, a)[c] = sum_{i=1..m} z_i(a)^k W[i, c]

U: (m, k, p), W: (m, p), validated by theory.network.PolyNet, whose methods call these functions.
D_p is enumerated lexicographically in chunks of whole prefixes (a_1..a_{k-1}), so memory stays
O(chunk_rows * m) whatever p^k is; map_chunks spreads contiguous ranges of prefixes over threads.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from threadpoolctl import threadpool_limits

import fourier_circuits.theory.budget as budget
from fourier_circuits.theory._validation import FloatArray, check_int
from fourier_circuits.theory.task import (
    IntArray,
    Task,
    default_chunk_rows,
    lex_digits,
    require_enumerable,
)

T = TypeVar("T")

# Bytes of pre-activations handled per element-wise block in the streaming evaluation: a block
# and its scratch (2 x 256 KiB) stay in a core's L2 cache between the add and the power's
# multiplications; measured 10-15% faster than whole chunks at p = 97, k = 3, m = 1536.
_BLOCK_BYTES = 2**18


@dataclass(frozen=True)
class LogitChunk:
    """A block of D_p: inputs start..start+len-1 (lexicographic), their labels and logits."""

    start: int
    labels: IntArray  # (B,)
    logits: FloatArray  # (B, p)


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _optional_positive_int(name: str, value: Any) -> int | None:
    """None, or value as an int >= 1 (chunk sizes)."""
    if value is None:
        return None
    return check_int(name, value, min_value=1, rule="a positive integer (or None)")


def _optional_workers(value: Any) -> int | None:
    """None, or value as an int in 1..theory.budget.max_threads()."""
    if value is None:
        return None
    limit = budget.max_threads()
    number = check_int("workers", value, min_value=1, rule="a positive integer (or None)")
    return check_int(
        "workers",
        number,
        max_value=limit,
        rule=f"at most {limit} ({budget.THREADS_PER_CPU} x the CPUs of this machine)",
    )


def _shape_text(m: int, k: int, p: int) -> str:
    return f"the network (m, k, p) = ({m}, {k}, {p})"


def require_batch(U: FloatArray, n_inputs: int, rows: int) -> None:
    """Refuse logits of n_inputs inputs that would not fit or finish (theory.budget): the output
    (N, p), per chunk of `rows` inputs the pre-activations and their scratch (2 x rows x m), the
    table U^T (k, p, m), all float64; the work evaluation_flop(N, m, k, p)."""
    m, k, p = U.shape
    block = min(rows, n_inputs)
    budget.require(
        f"the logits of {_shape_text(m, k, p)} on {n_inputs} inputs",
        nbytes=8 * (n_inputs * p + 2 * block * m + k * p * m),
        flop=budget.evaluation_flop(n_inputs, m, k, p),
    )


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


def hidden(U: FloatArray, a: IntArray) -> FloatArray:
    """Pre-activations z_i(a) = sum_j U[i, j, a_j] of validated inputs a: (N, k) -> (N, m);
    refused when Z (N, m), a gathered row block and U^T (k, p, m) would not fit in memory."""
    m, k, p = U.shape
    budget.require_memory(
        f"the pre-activations of {_shape_text(m, k, p)} on {a.shape[0]} inputs",
        8 * (2 * a.shape[0] * m + k * p * m),
    )
    UT = np.ascontiguousarray(U.transpose(1, 2, 0))  # (k, p, m)
    Z = np.zeros((a.shape[0], m))
    for j in range(k):
        Z += UT[j][a[:, j]]
    return Z


def logits(U: FloatArray, W: FloatArray, a: IntArray, *, chunk_rows: int | None) -> FloatArray:
    """f(theta, a) for validated inputs a: (N, k) -> (N, p), chunk_rows inputs at a time."""
    m, k, p = U.shape
    rows = _optional_positive_int("chunk_rows", chunk_rows) or default_chunk_rows(Task(p, k), m)
    require_batch(U, a.shape[0], rows)
    out = np.empty((a.shape[0], p))
    for s in range(0, a.shape[0], rows):
        Z = hidden(U, a[s : s + rows])
        _power_inplace(Z, k, np.empty_like(Z))
        np.matmul(Z, W, out=out[s : s + rows])
    return out


def iter_logits(U: FloatArray, W: FloatArray, *, chunk_rows: int | None) -> Iterator[LogitChunk]:
    """Logits over all of D_p in lexicographic order, lazily, chunk by chunk.

    Memory stays O(chunk_rows * m) whatever p^k is; see map_chunks for the parallel form.
    Arguments and the size of D_p are checked on the call, not at the first chunk.
    """
    ((first, count, per),) = _prefix_ranges(U, chunk_rows, parts=1)
    return _chunk_range(U, W, first, count, per)


def map_chunks(
    U: FloatArray,
    W: FloatArray,
    fn: Callable[[LogitChunk], T],
    *,
    chunk_rows: int | None,
    workers: int | None,
) -> list[T]:
    """[fn(chunk) for chunk in iter_logits(U, W)], computed by `workers` threads.

    Each thread takes a contiguous range of D_p and runs single-threaded BLAS, so the
    element-wise work (the power z^k) runs in parallel with the matrix products instead of
    serialising between them; numpy releases the GIL in both. Results come back in order.
    """
    _, k, p = U.shape
    requested = _optional_workers(workers) or _cpu_count()
    # p^(k-1) is computed only when it is at most `requested`
    n_workers = (
        requested if budget.power_exceeds(p, k - 1, requested) else min(requested, p ** (k - 1))
    )
    if n_workers == 1:
        return [fn(chunk) for chunk in iter_logits(U, W, chunk_rows=chunk_rows)]
    ranges = _prefix_ranges(U, chunk_rows, parts=n_workers)

    def run(block: tuple[int, int, int]) -> list[T]:
        return [fn(chunk) for chunk in _chunk_range(U, W, *block)]

    with threadpool_limits(limits=1), ThreadPoolExecutor(n_workers) as pool:
        parts = list(pool.map(run, ranges))
    return [result for part in parts for result in part]


def _prefix_ranges(
    U: FloatArray, chunk_rows: int | None, *, parts: int
) -> list[tuple[int, int, int]]:
    """Split the p^(k-1) prefixes (a_1..a_{k-1}) into `parts` contiguous ranges
    (first prefix, number of prefixes, prefixes per chunk), after refusing a D_p too large to
    enumerate (theory.task.require_enumerable) and an evaluation that would not fit or finish
    (require_pass)."""
    m, k, p = U.shape
    task = Task(p, k)
    require_enumerable(task, work_per_example=2.0 * m * p)
    rows = _optional_positive_int("chunk_rows", chunk_rows) or default_chunk_rows(task, m)
    per = max(rows // p, 1)
    n_prefix = p ** (k - 1)
    require_pass(m, k, p, prefixes_per_chunk=min(per, n_prefix), workers=parts)
    bounds = [n_prefix * i // parts for i in range(parts + 1)]
    return [(bounds[i], bounds[i + 1] - bounds[i], per) for i in range(parts)]


def require_evaluation(m: int, k: int, p: int, *, passes: int = 1) -> None:
    """Refuse, before a network is built, `passes` passes over D_p of a width-m network that
    would not fit or finish: theory.task.require_enumerable, then require_pass with the default
    chunks and one worker per usable CPU."""
    task = Task(p, k)
    require_enumerable(task, work_per_example=2.0 * m * p)
    per = max(default_chunk_rows(task, m) // p, 1)
    n_prefix = p ** (k - 1)
    workers = min(_cpu_count(), n_prefix)
    require_pass(m, k, p, prefixes_per_chunk=min(per, n_prefix), workers=workers, passes=passes)


def require_pass(
    m: int, k: int, p: int, *, prefixes_per_chunk: int, workers: int, passes: int = 1
) -> None:
    """Refuse `passes` passes over D_p (p^k <= MAX_EXAMPLES inputs) of a width-m network that
    would not fit or finish (theory.budget). Memory, float64, per worker with P =
    prefixes_per_chunk: the table U^T (k, p, m), the activations (P, p, m), the prefix sums
    (P, m), the logits (P p, p) and two copies the margin statistics make of them, plus a cache
    block; time: passes x evaluation_flop(p^k, m, k, p)."""
    n = p**k
    P = prefixes_per_chunk
    per_worker = 8 * (k * p * m + P * p * m + P * m + 3 * P * p * p) + 2 * _BLOCK_BYTES
    budget.require(
        f"evaluating {_shape_text(m, k, p)} over D_p ({n:.3e} inputs)",
        nbytes=workers * per_worker,
        flop=passes * budget.evaluation_flop(n, m, k, p),
        fix="choose a smaller network, p or k",
    )


def _chunk_range(
    U: FloatArray, W: FloatArray, first: int, count: int, per: int
) -> Iterator[LogitChunk]:
    """Chunks for prefixes first..first+count-1: each is P whole prefixes times all p values
    of a_k, so z = S[prefix] + U[:, k-1, a_k] is a broadcast add.

    The add and the power z^k run block by block on about _BLOCK_BYTES of z at a time, so
    each block is still in the core's cache for the next pass (three passes for k = 3);
    one matrix product per chunk then gives the logits.
    """
    m, k, p = U.shape
    UT = np.ascontiguousarray(U.transpose(1, 2, 0))  # (k, p, m)
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
        f = z.reshape(P * p, m) @ W  # (P*p, p) logits
        y = (prefixes.sum(axis=1)[:, None] + last[None, :]) % p
        yield LogitChunk(lo * p, y.reshape(-1), f)
