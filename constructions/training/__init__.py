"""PyTorch training of the network of eq. 2 of arXiv 2402.09469, measured by the theory module.

The public face is constructions.trained (and constructions itself); see docs/training.md.
"""

from fourier_circuits.constructions.training.config import (
    DEFAULTS,
    DEVICES,
    DTYPES,
    OPTIMIZERS,
    TrainConfig,
)
from fourier_circuits.constructions.training.loop import TrainRun, auto_threads, train, train_run
from fourier_circuits.constructions.training.monitor import Monitor, MonitorRecord
from fourier_circuits.constructions.training.result import (
    HistoryRecord,
    TrainingDivergedError,
    TrainingError,
    TrainingStalledError,
    TrainResult,
    measure,
)
from fourier_circuits.constructions.training.state import TrainState
from fourier_circuits.theory.tolerances import (
    COVERAGE_CLAIM,
    MARGIN_RATIO_CLAIM,
    SINGLE_FREQUENCY_CLAIM,
)

__all__ = [
    "COVERAGE_CLAIM",
    "DEFAULTS",
    "DEVICES",
    "DTYPES",
    "MARGIN_RATIO_CLAIM",
    "OPTIMIZERS",
    "SINGLE_FREQUENCY_CLAIM",
    "HistoryRecord",
    "Monitor",
    "MonitorRecord",
    "TrainConfig",
    "TrainResult",
    "TrainRun",
    "TrainState",
    "TrainingDivergedError",
    "TrainingError",
    "TrainingStalledError",
    "auto_threads",
    "measure",
    "train",
    "train_run",
]
