"""What is saved beside every result: package versions, the command line, the seed."""

from __future__ import annotations

import platform
import sys
from importlib import metadata
from typing import Any

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
