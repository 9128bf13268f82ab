"""Resource estimates: a job's memory and time, computed before anything is allocated or run, and
one refusal (FourierCircuitsError) that names the quantity, the estimate and the limit.

Memory. The limit is ``memory_limit()`` = MEMORY_SHARE x ``available_memory()``, the memory this
machine has available now: MemAvailable of /proc/meminfo (Linux), else
``os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")``, else FALLBACK_MEMORY; lowered to
what a cgroup memory limit leaves (memory.max - memory.current) where one is set. An estimate is
the bytes of the arrays a job holds at once, each ``array_bytes(shape, itemsize)`` =
prod(shape) x itemsize (8 for float64), counted with Python integers so nothing overflows.

Time. Work is counted in floating-point operations (flop) and converted at a conservative rate:

    hours(flop) = flop / flop_rate() / 3600,     flop_rate() = FLOP_RATE_PER_CORE x usable_cpus()

FLOP_RATE_PER_CORE = 1e10 flop/s: evaluating the paper's network over D_p measured 26-51 GFLOP/s
on 2 cores ((97, 3), (47, 4), (301, 2)), so the estimate is an upper bound on the time there.
Python-level loops are counted in steps at PYTHON_STEPS_PER_SECOND (1e6) on one core. Work above
MAX_WORK_HOURS is refused. Evaluating the network of eq. 2 of arXiv 2402.09469
(U: (m, k, p), W: (m, p)) on N inputs costs

    evaluation_flop(N, m, k, p) = N m (2 p + k)

(2 m p per input for the product z^k @ W, about m k for the k sums and the power z^k).

Exact integers. A closed form computed exactly (Python int, sympy) must stay printable: at most
``int_digits_limit()`` decimal digits, Python's limit on int-to-str conversion
(sys.get_int_max_str_digits(), 4300 by default; INT_DIGITS_FALLBACK where it is unlimited).
Sizes such as p^k are compared in logarithms (``power_exceeds``), never computed when huge.

Threads. A job may ask for at most ``max_threads()`` = THREADS_PER_CPU x os.cpu_count() threads.

The refusals: ``require(quantity, nbytes=, flop=)`` (memory and time of one job),
``require_memory`` (and ``require_memory_log10`` for sizes known only by their logarithm),
``require_time`` (flop), ``require_steps`` (Python-level loops), ``require_digits`` (exact
integers). Each raises FourierCircuitsError "{quantity} would need about {estimate} ..., more
than the limit {limit} (...)" and computes nothing itself.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterable

from fourier_circuits.theory.errors import FourierCircuitsError

#: Share of the available memory a job may plan to use; the rest is for the interpreter, the
#: libraries' buffers, other processes and the estimates' slack.
MEMORY_SHARE = 0.8
#: Assumed available memory where the operating system reports none (2 GiB).
FALLBACK_MEMORY = 2**31
#: Conservative float64 throughput of one core (module docstring: measured 13-25 GFLOP/s a core).
FLOP_RATE_PER_CORE = 1e10
#: Conservative speed of a Python-level loop doing a few operations per iteration.
PYTHON_STEPS_PER_SECOND = 1e6
#: Longest job accepted, in hours at flop_rate(): beyond it a run would look like a hang.
MAX_WORK_HOURS = 24.0
#: With an early stop, the share of a run's step ceiling its time estimate counts: runs that reach
#: their target stop long before it (the paper's network reaches 0.99 gamma* in 1750-3350 of its
#: 20000 steps, docs/training.md), so a ceiling of up to 1 / EARLY_STOP_SHARE x the limit passes.
EARLY_STOP_SHARE = 0.1
#: Most threads a job may ask for per CPU of the machine: a few more than the CPUs can overlap
#: waiting; thousands only wait on each other (and each costs a stack).
THREADS_PER_CPU = 4
#: Most decimal digits of an exact integer where Python sets no limit of its own.
INT_DIGITS_FALLBACK = 100_000


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024  # the value is in kB
    except (OSError, ValueError, IndexError):
        pass
    return None


def _sysconf_available() -> int | None:
    try:
        pages, size = os.sysconf("SC_AVPHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
    return pages * size if pages > 0 and size > 0 else None


def _read_int(path: str) -> int | None:
    try:
        with open(path) as fh:
            return int(fh.read().strip())
    except (OSError, ValueError):  # missing, or "max" (no limit)
        return None


def _cgroup_headroom() -> int | None:
    """What a cgroup memory limit leaves: limit - usage (v2, else v1); None without a limit."""
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/memory.usage_in_bytes",
        ),
    ):
        limit, usage = _read_int(limit_file), _read_int(usage_file)
        if limit is not None and usage is not None and limit < 2**60:  # v1 "no limit" is ~2^63
            return max(limit - usage, 0)
    return None


def available_memory() -> int:
    """Bytes of memory available now (module docstring: /proc/meminfo, sysconf, a fallback; at
    most what a cgroup limit leaves)."""
    found = _meminfo_available() or _sysconf_available() or FALLBACK_MEMORY
    headroom = _cgroup_headroom()
    return found if headroom is None else min(found, headroom)


def memory_limit() -> int:
    """The most bytes a job may plan to hold: MEMORY_SHARE x available_memory()."""
    return int(MEMORY_SHARE * available_memory())


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def max_threads() -> int:
    """The most threads (workers, torch or BLAS threads) a job may use: THREADS_PER_CPU x
    os.cpu_count()."""
    return THREADS_PER_CPU * (os.cpu_count() or 1)


def flop_rate() -> float:
    """Conservative flop/s of this machine: FLOP_RATE_PER_CORE x usable_cpus()."""
    return FLOP_RATE_PER_CORE * usable_cpus()


def hours(flop: float) -> float:
    """flop / flop_rate() / 3600: the estimated hours of `flop` floating-point operations."""
    return as_float(flop) / flop_rate() / 3600


def array_bytes(shape: Iterable[int], itemsize: int = 8) -> int:
    """prod(shape) x itemsize as an exact Python int (8: float64 / int64, 16: complex128)."""
    return math.prod(int(n) for n in shape) * int(itemsize)


def as_float(value: float | int) -> float:
    """float(value), or inf for an integer too large for a float (instead of OverflowError)."""
    try:
        return float(value)
    except OverflowError:
        return math.inf


def evaluation_flop(n_inputs: int, m: int, k: int, p: int) -> float:
    """N m (2 p + k): the flop of the logits of a width-m network on N inputs (module docstring)."""
    return as_float(n_inputs) * as_float(m) * (2.0 * as_float(p) + k)


def int_digits_limit() -> int:
    """Most decimal digits an exact integer may have: sys.get_int_max_str_digits() (Python's own
    limit for printing it), INT_DIGITS_FALLBACK where that is unlimited (0) or unknown."""
    limit = getattr(sys, "get_int_max_str_digits", lambda: 0)()
    return int(limit) if limit > 0 else INT_DIGITS_FALLBACK


def power_exceeds(base: int, exponent: int, limit: int) -> bool:
    """Whether base^exponent > limit for integers base >= 1, exponent >= 0, limit >= 1, without
    computing base^exponent when it is far above the limit (logarithms decide those)."""
    if base <= 1 or exponent == 0:
        return limit < 1
    if exponent * math.log2(base) > math.log2(limit) + 1:
        return True
    return bool(base**exponent > limit)  # now at most about 2 x limit: cheap


def log10_of(value: float | int) -> float:
    """log10 of a positive int (any size) or float; -inf for 0."""
    return math.log10(value) if value > 0 else -math.inf


def magnitude(log10_value: float, *, digits: int = 3) -> str:
    """A number given by its log10, as 1.23e+45 while a float holds it, else 10^(6.2e+12)."""
    if log10_value == -math.inf:
        return "0"
    if abs(log10_value) < 300:
        return f"{10.0**log10_value:.{digits}g}"
    return f"10^({log10_value:.{digits}g})"


def format_bytes(nbytes: float | int) -> str:
    """Bytes in binary units (KiB .. PiB), or as a power of ten when astronomically large."""
    value = log10_of(nbytes)
    if value > 20:
        return f"{magnitude(value)} bytes"
    size = float(nbytes)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024:
            return f"{size:.0f} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} PiB"


def require_memory(quantity: str, nbytes: int | float, *, fix: str = "") -> None:
    """Refuse (FourierCircuitsError) a job whose arrays would need more than memory_limit():
    `{quantity} would need about {estimate} of memory, more than the limit {limit} (...)`;
    fix: what to change. nbytes may be an int of any size."""
    require_memory_log10(quantity, log10_of(nbytes), fix=fix)


def require_memory_log10(quantity: str, log10_bytes: float, *, fix: str = "") -> None:
    """require_memory for an estimate given by its log10 (sizes too large to compute)."""
    limit = memory_limit()
    if log10_bytes > log10_of(limit):
        raise FourierCircuitsError(
            f"{quantity} would need about {_bytes_from_log10(log10_bytes)} of memory, more than "
            f"the limit {format_bytes(limit)} ({MEMORY_SHARE:.0%} of the "
            f"{format_bytes(available_memory())} available on this machine)"
            f"{'; ' + fix if fix else ''}"
        )


def _bytes_from_log10(log10_bytes: float) -> str:
    if log10_bytes > 20:
        return f"{magnitude(log10_bytes)} bytes"
    return format_bytes(10.0**log10_bytes)


def require_hours(quantity: str, estimate: float, *, basis: str, fix: str = "") -> None:
    """Refuse a job estimated at more than MAX_WORK_HOURS hours (basis: how it was estimated)."""
    if not estimate <= MAX_WORK_HOURS:  # also refuses inf and NaN
        raise FourierCircuitsError(
            f"{quantity} would take about {magnitude(log10_of(estimate))} hours ({basis}), more "
            f"than the limit {MAX_WORK_HOURS:g} hours{'; ' + fix if fix else ''}"
        )


def require_time(quantity: str, flop: float, *, fix: str = "") -> None:
    """Refuse (FourierCircuitsError) work estimated above MAX_WORK_HOURS at flop_rate():
    `{quantity} would take about {h} hours ({flop} flop at {rate} flop/s ...), more than ...`."""
    require_hours(
        quantity,
        hours(flop),
        basis=f"{magnitude(log10_of(flop))} flop at {flop_rate():.3g} flop/s, {usable_cpus()} "
        "cores",
        fix=fix,
    )


def require_steps(quantity: str, steps: float, *, fix: str = "") -> None:
    """Refuse a Python loop of `steps` iterations estimated above MAX_WORK_HOURS at
    PYTHON_STEPS_PER_SECOND (one core: the interpreter runs one loop at a time)."""
    require_hours(
        quantity,
        as_float(steps) / PYTHON_STEPS_PER_SECOND / 3600,
        basis=f"{magnitude(log10_of(steps))} Python-level steps at {PYTHON_STEPS_PER_SECOND:.0e} "
        "a second",
        fix=fix,
    )


def require(quantity: str, *, nbytes: int | float = 0, flop: float = 0.0, fix: str = "") -> None:
    """require_memory and require_time for one job: refused if either estimate is over its limit."""
    require_memory(quantity, nbytes, fix=fix)
    require_time(quantity, flop, fix=fix)


def require_digits(quantity: str, log10_value: float, *, fix: str = "") -> None:
    """Refuse an exact integer of more than int_digits_limit() decimal digits (log10_value: the
    log10 of the integer, computed in floats before the integer is)."""
    limit = int_digits_limit()
    if not log10_value < limit:
        raise FourierCircuitsError(
            f"{quantity} = {magnitude(log10_value)} has more than {limit} digits, the limit for "
            f"exact integers here (Python's int-to-str limit){'; ' + fix if fix else ''}"
        )
