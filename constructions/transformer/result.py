"""What a Transformer run measures and returns.

Accuracy counts an example as correct when the logit of its label is strictly larger than every
other logit (the margin g > 0 of Def 3.2; a tie is wrong), as theory.margins_from_logits does for
the paper's network. Errors are constructions.training's TrainingDivergedError and
TrainingStalledError, with the TransformerRecords measured before in `history`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fourier_circuits.constructions.transformer.analysis import AttentionAnalysis, analyse_attention
from fourier_circuits.constructions.transformer.config import TEST_ACCURACY_CLAIM, TransformerConfig
from fourier_circuits.constructions.transformer.multisets import (
    MultisetBreakdown,
    multiset_breakdown,
)
from fourier_circuits.theory import TOP_FREQUENCIES
from fourier_circuits.theory.serialise import jsonable


@dataclass(frozen=True)
class TransformerRecord:
    """The Transformer after `step` optimiser steps.

    loss: the training cross-entropy of the last step's batch (NaN, None in JSON, at step 0);
    train_loss / test_loss: cross-entropy over the whole training / held-out part;
    train_accuracy / test_accuracy: share with the label's logit strictly the largest.
    """

    step: int
    seconds: float
    loss: float
    lr: float
    train_loss: float
    test_loss: float
    train_accuracy: float
    test_accuracy: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (every float finite or None)."""
        return dict(jsonable(self))


@dataclass(frozen=True)
class TransformerResult:
    """A finished run: the config, the initial and final parameters (float64 numpy, the layout of
    constructions.transformer.model), the measurements (the last one measures `params`), why it
    stopped ("target": test accuracy reached config.target_accuracy; "steps": budget used)."""

    config: TransformerConfig
    initial: dict[str, np.ndarray[Any, Any]]
    params: dict[str, np.ndarray[Any, Any]]
    history: tuple[TransformerRecord, ...]
    stop_reason: str
    steps: int
    seconds: float
    threads: int

    @property
    def final(self) -> TransformerRecord:
        return self.history[-1]

    def first_reaching(self, accuracy: float = TEST_ACCURACY_CLAIM) -> TransformerRecord | None:
        """The first measurement with test_accuracy >= accuracy (None if none)."""
        return next((r for r in self.history if r.test_accuracy >= accuracy), None)

    def analysis(self, *, n_top: int = TOP_FREQUENCIES) -> AttentionAnalysis:
        """The attention's Fourier analysis of the final parameters (float64)."""
        return analyse_attention(self.params, n_top=n_top)

    def multisets(self) -> MultisetBreakdown:
        """The final held-out accuracy split by whether each example's multiset occurs in the
        training part (constructions.transformer.multisets)."""
        return multiset_breakdown(self.config, self.params)

    def failures(self, accuracy: float = TEST_ACCURACY_CLAIM) -> list[str]:
        """The checked claim, named with its value, when it fails: test accuracy >= accuracy."""
        final = self.final
        if final.test_accuracy >= accuracy:
            return []
        where = self.multisets()
        return [
            f"test accuracy >= {accuracy} (generalisation to the held-out "
            f"{1 - self.config.train_fraction:.0%}): test_accuracy = {final.test_accuracy:.6g} "
            f"after {self.steps} steps; wrong on {where.unseen_errors} of {where.unseen} held-out "
            f"examples whose multiset is absent from training, {where.seen_errors} of "
            f"{where.seen} whose multiset is present"
        ]
