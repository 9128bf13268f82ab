"""fourier-circuits: check the theorems of arXiv 2402.09469 (Fourier circuits for k-input modular
addition) by independent routes that must agree: symbolic, constructive, convex and empirical.

One import package with three layers, each pointing down only:

- `fourier_circuits.theory`: what is true and how to check it (numpy, scipy, sympy; no torch);
- `fourier_circuits.constructions`: networks built by a method (analytic, exact, convex, trained);
- `fourier_circuits.experiments`: the command line, reports and files;

and `fourier_circuits.testing`, hypothesis strategies for property tests in your own suite
(`pip install 'fourier-circuits[hypothesis]'`). Importing this package loads none of them, so
`import fourier_circuits` is instant; import the layer you use.
"""

from __future__ import annotations

from importlib import metadata

try:
    __version__: str = metadata.version("fourier-circuits")
except metadata.PackageNotFoundError:  # pragma: no cover - running from a checkout, not installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
