"""`fourier-circuits paper`: the experiments of arXiv 2402.09469 at the paper's own settings.

common.py is the interface every experiment implements; plan.py the registry of their names.
"""

from fourier_circuits.experiments.paper.common import (
    Estimate,
    Experiment,
    ExperimentResult,
    RunContext,
    StepBudgetReached,
)
from fourier_circuits.experiments.paper.plan import NAMES, experiments, validate_names

__all__ = [
    "NAMES",
    "Estimate",
    "Experiment",
    "ExperimentResult",
    "RunContext",
    "StepBudgetReached",
    "experiments",
    "validate_names",
]
