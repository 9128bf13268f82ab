"""What is saved beside every result: package versions, the command line, the seed."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from fourier_circuits.theory import FourierCircuitsError

PACKAGES = ("fourier-circuits", "numpy", "scipy", "sympy", "cvxpy", "torch")


def versions() -> dict[str, str]:
    """Installed versions of the packages results depend on (absent ones are omitted)."""
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def provenance(**extra: Any) -> dict[str, Any]:
    """Meta for a saved network or report: versions, argv, and whatever the caller adds."""
    return {"versions": versions(), "argv": list(sys.argv), **extra}


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
