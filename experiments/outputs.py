"""Where results are written: output paths checked before any work (--save files, --out
directories), files written atomically (theory's one writer). Light on purpose (no torch, cvxpy
or matplotlib), so every subcommand can use it without loading what it does not need."""

from __future__ import annotations

import os
from pathlib import Path

from fourier_circuits.theory import FourierCircuitsError, write_atomic

__all__ = [
    "make_out_dir",
    "require_writable_dir",
    "require_writable_file",
    "write_atomic",
]  # one atomic writer: theory's


def require_writable_dir(path: str) -> Path:
    """Fail fast when --out cannot be written: an existing writable directory, or a new one
    whose parent is a writable directory (created only when the results are written)."""
    target = Path(path)
    if target.exists():
        if not target.is_dir():
            raise FourierCircuitsError(f"--out {path!r} exists and is not a directory")
        if not os.access(target, os.W_OK | os.X_OK):
            raise FourierCircuitsError(f"--out {path!r} is not writable")
        return target
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise FourierCircuitsError(f"--out {path!r}: directory {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise FourierCircuitsError(f"--out {path!r}: directory {str(parent)!r} is not writable")
    return target


def make_out_dir(out: Path) -> None:
    """Create --out (checked by require_writable_dir) when the results are written; an OS error
    is bad input named with the path."""
    try:
        out.mkdir(exist_ok=True)
    except OSError as err:
        raise FourierCircuitsError(f"--out {str(out)!r}: {err.strerror or err}") from None


def require_writable_file(path: str | os.PathLike[str], *, what: str = "--save") -> Path:
    """Fail fast, before any work, when `path` cannot be written: its directory must exist and
    be writable, and the path itself must not be a directory."""
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise FourierCircuitsError(f"{what} {str(target)!r} is a directory; give a file path")
    if not parent.is_dir():
        raise FourierCircuitsError(
            f"{what} {str(target)!r}: directory {str(parent)!r} does not exist"
        )
    if not os.access(parent, os.W_OK):
        raise FourierCircuitsError(
            f"{what} {str(target)!r}: directory {str(parent)!r} is not writable"
        )
    return target
