"""The task: k-input modular addition over Z_p (Section 3 of arXiv 2402.09469).

D_p is the set of all p^k tuples a = (a_1, ..., a_k) in Z_p^k with label
y = (a_1 + ... + a_k) mod p.
Inputs are enumerated in lexicographic order (a_1 most significant), lazily, in chunks whose
length is a multiple of p so that a chunk is a whole number of "rows" (prefixes a_1..a_{k-1}).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fourier_circuits.theory._validation import check_int
from fourier_circuits.theory.errors import FourierCircuitsError

IntArray = npt.NDArray[np.int64]

# The largest D_p any function here agrees to enumerate: 2^33 inputs is hours of work at the
# paper's widths; beyond that a run would not finish, so we refuse with an estimate instead.
MAX_EXAMPLES = 2**33
# The most memory a single materialised array (per-example margins, labels) may take.
MAX_ARRAY_BYTES = 4 * 2**30


def is_prime(n: int) -> bool:
    """Deterministic trial division; p in this project is small (p^k must be enumerable)."""
    if n < 2:
        return False
    if n % 2 == 0:
        return n == 2
    return all(n % d for d in range(3, math.isqrt(n) + 1, 2))


def validate_p(p: object) -> int:
    """Return p as an int, or raise: p must be an odd integer >= 3 (the theory needs odd p)."""
    p_int = check_int("p", p, integral_float=True)  # an integral float (7.0) is accepted
    if p_int < 3 or p_int % 2 == 0:
        raise FourierCircuitsError(
            f"p={p!r} must be an odd integer >= 3 (the theory needs odd p; "
            "prime p is the paper's setting, odd composite p also satisfies the closed form)"
        )
    return p_int


def validate_k(k: object) -> int:
    """Return k as an int, or raise: k must be an integer >= 2 (the number of summands)."""
    k_int = check_int("k", k, integral_float=True)
    if k_int < 2:
        raise FourierCircuitsError(f"k={k!r} must be an integer >= 2 (the number of summands)")
    return k_int


@dataclass(frozen=True)
class Task:
    """k-input modular addition over Z_p: validated p and k, and the size of D_p."""

    p: int
    k: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "p", validate_p(self.p))
        object.__setattr__(self, "k", validate_k(self.k))

    @property
    def prime(self) -> bool:
        """Whether p is prime (the paper's assumption; the results hold for odd composite p too)."""
        return is_prime(self.p)

    @property
    def n_examples(self) -> int:
        """|D_p| = p^k."""
        return int(self.p) ** int(self.k)

    @property
    def frequencies(self) -> IntArray:
        """The frequencies zeta = 1, ..., (p-1)/2 of Theorem 4.1 (ii)-(iii)."""
        return np.arange(1, (self.p - 1) // 2 + 1, dtype=np.int64)


def require_enumerable(task: Task, *, work_per_example: float = 1.0) -> None:
    """Refuse (with an estimate) a D_p too large to enumerate on this machine.

    work_per_example is the number of floating-point operations spent per input (about 2 m p for
    the logits of a width-m network), used only for the time estimate in the message.
    """
    n = task.n_examples
    if n > MAX_EXAMPLES:
        # ~2e10 float64 flop/s is what a 2-core machine sustains on matrix products.
        hours = n * max(work_per_example, 1.0) / 2e10 / 3600
        raise FourierCircuitsError(
            f"D_p for p={task.p}, k={task.k} has p^k = {n:.3e} inputs, more than the limit "
            f"{MAX_EXAMPLES:.3e} (about {hours:.3g} hours of work at this width); "
            "choose a smaller p or k"
        )


def require_array_fits(n_values: int, *, bytes_per_value: int, what: str) -> None:
    """Refuse to materialise an array that would not fit in memory, naming its size."""
    need = n_values * bytes_per_value
    if need > MAX_ARRAY_BYTES:
        raise FourierCircuitsError(
            f"{what} would need {need / 2**30:.1f} GiB ({n_values:.3e} values), more than the "
            f"limit {MAX_ARRAY_BYTES / 2**30:.0f} GiB; use the streaming (chunked) functions "
            "or a smaller p or k"
        )


def labels(inputs: IntArray, p: int) -> IntArray:
    """y = (a_1 + ... + a_k) mod p for inputs of shape (N, k)."""
    return np.asarray(inputs, dtype=np.int64).sum(axis=1) % p


def inputs_at(task: Task, start: int, stop: int) -> IntArray:
    """Inputs number start..stop-1 of D_p in lexicographic order, shape (stop - start, k)."""
    if not 0 <= start <= stop <= task.n_examples:
        raise FourierCircuitsError(
            f"range [{start}, {stop}) must lie within [0, {task.n_examples}) for p={task.p}, "
            f"k={task.k}"
        )
    return lex_digits(start, stop, p=task.p, n_digits=task.k)


def lex_digits(start: int, stop: int, *, p: int, n_digits: int) -> IntArray:
    """Base-p digits (most significant first) of start..stop-1, shape (stop-start, n_digits)."""
    index = np.arange(start, stop, dtype=np.int64)
    out = np.empty((stop - start, n_digits), dtype=np.int64)
    for j in range(n_digits - 1, -1, -1):  # the last digit is the least significant
        index, out[:, j] = np.divmod(index, p)
    return out


def default_chunk_rows(task: Task, width: int, *, budget_bytes: int = 2**23) -> int:
    """Rows (inputs) per chunk so a (rows, width) float64 block stays near budget_bytes,
    rounded to a multiple of p (whole prefixes) and at least p."""
    rows = max(budget_bytes // (8 * max(width, task.p)), task.p)
    return int(rows // task.p * task.p)


def iter_chunks(task: Task, *, chunk_rows: int | None = None) -> Iterator[tuple[int, IntArray]]:
    """Yield (start, inputs) covering D_p in lexicographic order; inputs: (B, k), B <= chunk_rows.

    Lazy: memory is O(chunk_rows * k) whatever p^k is. The size of D_p and chunk_rows are
    checked on the call, not when the first chunk is requested.
    """
    require_enumerable(task)
    rows = (
        default_chunk_rows(task, task.p)
        if chunk_rows is None
        else check_int("chunk_rows", chunk_rows, integral_float=True)
    )
    if rows < 1:
        raise FourierCircuitsError(f"chunk_rows={chunk_rows!r} must be a positive integer")
    return _chunks(task, rows)


def _chunks(task: Task, rows: int) -> Iterator[tuple[int, IntArray]]:
    n = task.n_examples
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        yield start, inputs_at(task, start, stop)


def all_inputs(task: Task) -> IntArray:
    """All of D_p as one (p^k, k) array (refused if it would not fit in memory)."""
    require_enumerable(task)
    require_array_fits(task.n_examples * task.k, bytes_per_value=8, what="all inputs of D_p")
    return inputs_at(task, 0, task.n_examples)
