"""The registry of `fourier-circuits paper`: every experiment's name, in order, and the module
that defines it (imported only when one of its experiments is asked for, so validating names and
--help load no torch)."""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from fourier_circuits.experiments.paper.common import Experiment
from fourier_circuits.theory import FourierCircuitsError

#: name -> (module under experiments/paper/, the attribute holding its experiments), in run order.
NAMES: dict[str, tuple[str, str]] = {
    "mlp-k4-p47": ("mlp", "MLP_EXPERIMENTS"),
    "mlp-k3-p97": ("mlp", "MLP_EXPERIMENTS"),
    "mlp-k5-p23": ("mlp", "MLP_EXPERIMENTS"),
    "transformer-k4-p31": ("transformer", "TRANSFORMER_EXPERIMENTS"),
    "transformer-k3-p61": ("transformer", "TRANSFORMER_EXPERIMENTS"),
    "transformer-k5-p17": ("transformer", "TRANSFORMER_EXPERIMENTS"),
    "grokking": ("grokking", "GROKKING_EXPERIMENT"),
}


def validate_names(names: Sequence[str] | None) -> list[str]:
    """The names asked for (None or empty: all), in registry order, each once; an unknown name
    is refused with the valid ones."""
    if not names:
        return list(NAMES)
    unknown = [name for name in names if name not in NAMES]
    if unknown:
        raise FourierCircuitsError(
            f"--experiment: unknown experiment {', '.join(map(repr, unknown))}; "
            f"valid: {', '.join(NAMES)}"
        )
    return [name for name in NAMES if name in names]


def experiment(name: str) -> Experiment:
    """The experiment called `name` (imports its module)."""
    module_name, attribute = NAMES[name]
    module = importlib.import_module(f"fourier_circuits.experiments.paper.{module_name}")
    found = getattr(module, attribute)
    candidates = found if isinstance(found, tuple) else (found,)
    for candidate in candidates:
        if candidate.name == name:
            assert isinstance(candidate, Experiment)
            return candidate
    raise AssertionError(f"{module_name}.{attribute} defines no experiment {name!r}")


def experiments(names: Sequence[str] | None = None) -> list[Experiment]:
    """The experiments asked for (validate_names), in registry order."""
    return [experiment(name) for name in validate_names(names)]
