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

import fourier_circuits.theory.budget as budget
from fourier_circuits.theory._validation import check_int
from fourier_circuits.theory.errors import FourierCircuitsError

IntArray = npt.NDArray[np.int64]

# The largest D_p any function here agrees to enumerate: 2^33 inputs is hours of work at the
# paper's widths; beyond that a run would not finish, so we refuse with an estimate instead.
MAX_EXAMPLES = 2**33

#: Miller-Rabin with the first 13 primes as bases is exact for every n below this bound
#: (Sorenson and Webster, 2015; the first 12, up to 37, already for n < 3.18e23 > 2^64).
MILLER_RABIN_BOUND = 3_317_044_064_679_887_385_961_981
MILLER_RABIN_BASES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41)
#: Largest n (in bits) whose primality is decided beyond MILLER_RABIN_BOUND: sympy's Baillie-PSW
#: test costs about 0.05 s at 2048 bits and grows with the cube of the length.
MAX_PRIME_BITS = 4096


def _strong_probable_prime(n: int, base: int) -> bool:
    """Whether odd n > base passes the Miller-Rabin round to `base`: with n - 1 = d 2^s (d odd),
    base^d = 1 or base^(d 2^r) = -1 (mod n) for some 0 <= r < s."""
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    x = pow(base, d, n)
    if x in (1, n - 1):
        return True
    for _ in range(s - 1):
        x = x * x % n
        if x == n - 1:
            return True
    return False


def is_prime(n: object) -> bool:
    """Whether the integer n is prime.

    Exact for n < MILLER_RABIN_BOUND (3.3e24, so for every 64-bit n): trial division by the 13
    primes up to 41, then deterministic Miller-Rabin with those bases (Sorenson and Webster, 2015).
    Above, sympy.isprime (Baillie-PSW: no composite is known to pass it) up to MAX_PRIME_BITS
    bits; beyond that, refused with a FourierCircuitsError (seconds to minutes per test).
    """
    number = check_int("n", n, rule="an integer (is_prime)")
    if number < 2:
        return False
    for q in MILLER_RABIN_BASES:
        if number % q == 0:
            return number == q
    if number < 43 * 43:  # no prime factor <= 41, so none at all
        return True
    if number < MILLER_RABIN_BOUND:
        return all(_strong_probable_prime(number, a) for a in MILLER_RABIN_BASES)
    if number.bit_length() > MAX_PRIME_BITS:
        raise FourierCircuitsError(
            f"is_prime: n has {number.bit_length()} bits, more than the limit {MAX_PRIME_BITS} "
            "(primality is decided exactly below 3.3e24 and by sympy's Baillie-PSW test up to "
            f"2^{MAX_PRIME_BITS}; beyond, one test takes seconds to minutes)"
        )
    import sympy  # here: only numbers beyond 3.3e24 need it

    return bool(sympy.isprime(number))


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
    def log10_examples(self) -> float:
        """log10 |D_p| = k log10 p, for sizes too large to compute."""
        return self.k * math.log10(self.p)

    @property
    def n_examples(self) -> int:
        """|D_p| = p^k, an exact int; refused (FourierCircuitsError) when it would have more
        digits than theory.budget.int_digits_limit() (compare log10_examples instead)."""
        budget.require_digits(f"|D_p| = p^k for p={self.p}, k={self.k}", self.log10_examples)
        return int(self.p) ** int(self.k)

    @property
    def frequencies(self) -> IntArray:
        """The frequencies zeta = 1, ..., (p-1)/2 of Theorem 4.1 (ii)-(iii) ((p-1)/2 int64, refused
        when they would not fit in memory)."""
        h = (self.p - 1) // 2
        budget.require_memory(f"the (p-1)/2 = {h} frequencies of p={self.p}", 8 * h)
        return np.arange(1, h + 1, dtype=np.int64)


def _count(log10_value: float, exact: int | None) -> str:
    """A count in the format of the refusals: 1.062e+12, or 10^(8.45e+11) when huge."""
    return f"{exact:.3e}" if exact is not None else budget.magnitude(log10_value)


def require_enumerable(task: Task, *, work_per_example: float = 1.0) -> None:
    """Refuse (with an estimate) a D_p too large to enumerate: p^k > MAX_EXAMPLES, decided in
    logarithms (p^k is never computed when huge).

    work_per_example is the number of floating-point operations spent per input (about 2 m p for
    the logits of a width-m network), used only for the time estimate in the message:
    hours = p^k x work_per_example / theory.budget.flop_rate() / 3600.
    """
    if not budget.power_exceeds(task.p, task.k, MAX_EXAMPLES):
        return
    log_n = task.log10_examples
    exact = task.p**task.k if log_n < 300 else None
    log_hours = (
        log_n
        + math.log10(max(float(work_per_example), 1.0))
        - math.log10(budget.flop_rate() * 3600)
    )
    raise FourierCircuitsError(
        f"D_p for p={task.p}, k={task.k} has p^k = {_count(log_n, exact)} inputs, more than the "
        f"limit {MAX_EXAMPLES:.3e} (about {budget.magnitude(log_hours)} hours of work at this "
        "width); choose a smaller p or k"
    )


def require_array_fits(n_values: int, *, bytes_per_value: int, what: str) -> None:
    """Refuse to materialise an array that would not fit in memory (theory.budget.memory_limit(),
    a share of what this machine has available), naming its size."""
    need = n_values * bytes_per_value
    limit = budget.memory_limit()
    if need > limit:
        raise FourierCircuitsError(
            f"{what} would need {budget.as_float(need) / 2**30:.1f} GiB "
            f"({budget.magnitude(budget.log10_of(n_values))} values), more than the limit "
            f"{limit / 2**30:.1f} GiB ({budget.MEMORY_SHARE:.0%} of the memory available on this "
            "machine); use the streaming (chunked) functions or a smaller p or k"
        )


def labels(inputs: IntArray, p: int) -> IntArray:
    """y = (a_1 + ... + a_k) mod p for inputs of shape (N, k)."""
    return np.asarray(inputs, dtype=np.int64).sum(axis=1) % p


#: Bytes per value of a block of inputs being built: the indices, the digits and divmod's scratch.
_INPUT_BYTES = 3 * 8


def inputs_at(task: Task, start: int, stop: int) -> IntArray:
    """Inputs number start..stop-1 of D_p in lexicographic order, shape (stop - start, k); the
    indices are int64, so p^k must stay below 2^63, and the block must fit in memory."""
    if budget.power_exceeds(task.p, task.k, 2**63 - 1):
        raise FourierCircuitsError(
            f"D_p for p={task.p}, k={task.k} has p^k = {budget.magnitude(task.log10_examples)} "
            "inputs, more than the limit 2^63 of int64 indices; choose a smaller p or k"
        )
    if not 0 <= start <= stop <= task.n_examples:
        raise FourierCircuitsError(
            f"range [{start}, {stop}) must lie within [0, {task.n_examples}) for p={task.p}, "
            f"k={task.k}"
        )
    budget.require_memory(
        f"inputs {start}..{stop - 1} of D_p (k={task.k} digits each)",
        (stop - start) * task.k * _INPUT_BYTES,
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
    block = min(rows, task.n_examples)  # n_examples <= MAX_EXAMPLES here
    budget.require_memory(
        f"chunks of chunk_rows={rows} inputs of D_p (k={task.k})", block * task.k * _INPUT_BYTES
    )
    return _chunks(task, rows)


def _chunks(task: Task, rows: int) -> Iterator[tuple[int, IntArray]]:
    n = task.n_examples
    for start in range(0, n, rows):  # sizes were checked by iter_chunks, once
        stop = min(start + rows, n)
        yield start, lex_digits(start, stop, p=task.p, n_digits=task.k)


def all_inputs(task: Task) -> IntArray:
    """All of D_p as one (p^k, k) array (refused if it would not fit in memory)."""
    require_enumerable(task)
    require_array_fits(task.n_examples * task.k, bytes_per_value=8, what="all inputs of D_p")
    return inputs_at(task, 0, task.n_examples)
