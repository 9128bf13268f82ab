"""What `fourier-circuits transformer` reports about a finished run, as one typed value.

report(result) measures a TransformerResult once: the run summary (final accuracies and losses,
the first steps at which test and train accuracy reach TEST_ACCURACY_CLAIM, why it stopped), the
held-out accuracy split by multiset (constructions.transformer.multisets), the Fourier analysis of
the attention (constructions.transformer.analysis) beside the level i.i.d. Gaussian noise reaches
(theory.noise_concentration, NOISE_SAMPLES matrices), and the checked claim's failures
(TransformerResult.failures). TransformerReport.as_dict() is the command's JSON object.

    from fourier_circuits.constructions import transformer as tf
    r = tf.report(tf.train_transformer(tf.TransformerConfig(p=11, k=3, seed=6)))
    r.test_accuracy, r.attention_fourier_concentration, r.noise_concentration, r.failures

Pure: no printing, no files; the noise's randomness comes from `noise_seed` (default: the run's
seed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fourier_circuits.constructions.transformer.analysis import AttentionAnalysis
from fourier_circuits.constructions.transformer.config import TEST_ACCURACY_CLAIM, TransformerConfig
from fourier_circuits.constructions.transformer.multisets import MultisetBreakdown
from fourier_circuits.constructions.transformer.result import TransformerResult
from fourier_circuits.theory import TOP_FREQUENCIES, noise_concentration
from fourier_circuits.theory.serialise import jsonable

#: Random matrices averaged for the noise level of the concentration (seeded by the run's seed).
NOISE_SAMPLES = 200


@dataclass(frozen=True)
class TransformerReport:
    """A Transformer run's measurements; the fields are named as the JSON keys they give.

    train_accuracy / test_accuracy, train_loss / test_loss: of the final measurement;
    steps_to_test_099 / seconds_to_test_099: the first measurement with test accuracy >=
        TEST_ACCURACY_CLAIM (None if none); steps_to_train_099: the same for train accuracy;
    steps, seconds, stop_reason, threads: of the run (TransformerResult);
    multisets: the held-out accuracy by multiset seen or unseen in training;
    analysis: the attention's Fourier analysis (n_top strongest classes);
    noise_concentration: the mean concentration of i.i.d. Gaussian p x p matrices (the same n_top);
    failures: the checked claim (test accuracy >= claim), named with its value, when it fails.
    """

    config: TransformerConfig
    train_accuracy: float
    test_accuracy: float
    steps_to_test_099: int | None
    seconds_to_test_099: float | None
    steps_to_train_099: int | None
    steps: int
    seconds: float
    stop_reason: str
    threads: int
    train_loss: float
    test_loss: float
    multisets: MultisetBreakdown
    analysis: AttentionAnalysis
    noise_concentration: float
    failures: tuple[str, ...]
    claim: float = TEST_ACCURACY_CLAIM

    @property
    def p(self) -> int:
        return self.config.p

    @property
    def k(self) -> int:
        return self.config.k

    @property
    def seed(self) -> int:
        return self.config.seed

    @property
    def attention_fourier_concentration(self) -> float:
        """DESIGN.md's key: the heads' power-weighted pooled concentration."""
        return self.analysis.concentration

    @property
    def ok(self) -> bool:
        return not self.failures

    def summary(self) -> dict[str, Any]:
        """The run's numbers besides the multisets and the attention analysis (JSON order)."""
        return {
            "train_accuracy": self.train_accuracy,
            "test_accuracy": self.test_accuracy,
            "steps_to_test_099": self.steps_to_test_099,
            "seconds_to_test_099": self.seconds_to_test_099,
            "steps_to_train_099": self.steps_to_train_099,
            "steps": self.steps,
            "seconds": self.seconds,
            "stop_reason": self.stop_reason,
            "threads": self.threads,
            "train_loss": self.train_loss,
            "test_loss": self.test_loss,
        }

    def as_dict(self) -> dict[str, Any]:
        """The JSON object of `fourier-circuits transformer --json` (without `out`), JSON-ready
        (theory.jsonable: non-finite floats are None)."""
        data: dict[str, Any] = {"p": self.p, "k": self.k, "seed": self.seed}
        data.update(self.summary())
        data.update(self.multisets.as_dict())
        data.update(self.analysis.as_dict())
        data["noise_concentration"] = self.noise_concentration
        data["claims"] = {"test_accuracy_at_least": self.claim}
        data["config"] = self.config.as_dict()
        return dict(jsonable(data))


def report(
    result: TransformerResult,
    *,
    n_top: int = TOP_FREQUENCIES,
    noise_samples: int = NOISE_SAMPLES,
    noise_seed: int | None = None,
) -> TransformerReport:
    """The TransformerReport of `result` (module docstring): its attention analysed in the n_top
    strongest conjugate classes, the noise level averaged over `noise_samples` Gaussian matrices
    drawn from numpy's default_rng(noise_seed), by default the run's seed."""
    config = result.config
    hit = result.first_reaching(TEST_ACCURACY_CLAIM)
    train_hit = next((r for r in result.history if r.train_accuracy >= TEST_ACCURACY_CLAIM), None)
    final = result.final
    analysis = result.analysis(n_top=n_top)
    seed = config.seed if noise_seed is None else noise_seed
    noise = noise_concentration(
        config.p, n_top=n_top, samples=noise_samples, rng=np.random.default_rng(seed)
    )
    return TransformerReport(
        config=config,
        train_accuracy=final.train_accuracy,
        test_accuracy=final.test_accuracy,
        steps_to_test_099=hit.step if hit else None,
        seconds_to_test_099=hit.seconds if hit else None,
        steps_to_train_099=train_hit.step if train_hit else None,
        steps=result.steps,
        seconds=result.seconds,
        stop_reason=result.stop_reason,
        threads=result.threads,
        train_loss=final.train_loss,
        test_loss=final.test_loss,
        multisets=result.multisets(),
        analysis=analysis,
        noise_concentration=noise,
        failures=tuple(result.failures(TEST_ACCURACY_CLAIM)),
    )
