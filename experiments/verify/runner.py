"""What every step of `fourier-circuits verify` shares: running a typed capability quietly,
timing it, turning a refused input or a failed solve into a failed check, and the command line
that reproduces a check (shown in the report)."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from fourier_circuits.experiments.verify.claims import Check
from fourier_circuits.theory import FourierCircuitsError

T = TypeVar("T")
PROG = "fourier-circuits"


def command(argv: Sequence[str]) -> str:
    """`fourier-circuits ARGV`: the command a reader runs to reproduce a check."""
    return " ".join([PROG, *argv])


def subject(p: int, k: int) -> str:
    return f"p={p}, k={k}"


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence a capability's output: Python's sys.stdout/sys.stderr and file descriptors 1 and
    2 (solvers print banners from C), so that verify's own progress lines stay readable and
    --json's stdout stays one object."""
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        saved = (os.dup(1), os.dup(2))
    except OSError:  # no real file descriptors (embedded use): silence Python's streams only
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
        return
    try:
        with (
            open(os.devnull, "w") as devnull,
            contextlib.redirect_stdout(io.StringIO()),
            contextlib.redirect_stderr(io.StringIO()),
        ):
            os.dup2(devnull.fileno(), 1)
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in zip((1, 2), saved, strict=True):
            os.dup2(copy, fd)
            os.close(copy)


def attempt(run: Callable[[], T]) -> tuple[T | None, str, float]:
    """run() quietly: (its result, "", seconds), or (None, the error, seconds) when it refuses
    its input or a solve fails (FourierCircuitsError): the check it feeds then fails, naming
    the error, instead of stopping the whole verification."""
    start = time.perf_counter()
    try:
        with quiet():
            value = run()
    except FourierCircuitsError as err:
        return None, str(err), time.perf_counter() - start
    return value, "", time.perf_counter() - start


def failed(
    claim: str,
    route: str,
    what: str,
    argv: Sequence[str],
    error: str,
    seconds: float,
    *,
    p: int | None = None,
    k: int | None = None,
) -> Check:
    """The check of a step that could not run: it fails, naming the error."""
    return Check(
        claim, route, what, command(argv), {"error": error}, False, error, seconds, ("error",), p, k
    )
