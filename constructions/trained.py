"""Trained networks: the paper's network (eq. 2 of arXiv 2402.09469) trained with PyTorch.

    from fourier_circuits.constructions.trained import TrainConfig, train
    result = train(TrainConfig(p=13, k=2, seed=0))   # width 2^(2k-2)(p-1) = 48 by default
    result.net            # a theory.PolyNet (float64), measured by the theory module
    result.final          # the last HistoryRecord: margin_ratio, coverage, max normalized power...

Pure: no printing, no files; progress through `callback`, randomness only from `seed`.
The implementation lives in constructions.training (config, model, methods, loop, result).
"""

from fourier_circuits.constructions.training import (
    COVERAGE_CLAIM,
    DEFAULTS,
    DEVICES,
    DTYPES,
    MARGIN_RATIO_CLAIM,
    OPTIMIZERS,
    SINGLE_FREQUENCY_CLAIM,
    HistoryRecord,
    TrainConfig,
    TrainingDivergedError,
    TrainingError,
    TrainingStalledError,
    TrainResult,
    auto_threads,
    measure,
    train,
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
    "TrainConfig",
    "TrainResult",
    "TrainingDivergedError",
    "TrainingError",
    "TrainingStalledError",
    "auto_threads",
    "measure",
    "train",
]
