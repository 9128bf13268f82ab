"""Where a trained Transformer's held-out errors lie: examples whose multiset was seen in training,
and examples whose multiset was not.

The label (a_1 + ... + a_k) mod p depends only on the multiset {a_1, ..., a_k}, and the model is
nearly symmetric under reordering its inputs (only the position embeddings tell the orders apart).
A held-out example whose multiset appears in the training half in another order is therefore
reachable by symmetry alone; one whose multiset appears nowhere in training (all orders held out)
tests generalisation in earnest. On a random 50% split of (11, 3) about 9% of the held-out
examples are of the second kind (every order of {a, a, a}, of {a, a, b} with probability 1/8, of
three distinct numbers with probability 1/64), and a run that misses test accuracy 0.99 misses it
there (measured in docs/transformer.md).

Pure: numpy and torch in float64, no printing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from fourier_circuits.constructions.training.model import data_split
from fourier_circuits.constructions.transformer.config import TransformerConfig
from fourier_circuits.constructions.transformer.model import logits
from fourier_circuits.theory import Task, labels

#: How many misclassified held-out examples a breakdown lists (the counts cover all of them).
LISTED_ERRORS = 10


@dataclass(frozen=True)
class MultisetBreakdown:
    """Held-out accuracy split by whether the example's multiset occurs in the training part.

    seen / unseen: held-out examples whose multiset does / does not occur in training;
    *_accuracy: share of them with the label's logit strictly the largest (NaN when there are none);
    errors: up to LISTED_ERRORS misclassified held-out examples, as (inputs, label, predicted,
    multiset seen in training), unseen multisets first.
    """

    seen: int
    unseen: int
    seen_errors: int
    unseen_errors: int
    errors: tuple[tuple[tuple[int, ...], int, int, bool], ...]

    @property
    def seen_accuracy(self) -> float:
        return 1.0 - self.seen_errors / self.seen if self.seen else float("nan")

    @property
    def unseen_accuracy(self) -> float:
        return 1.0 - self.unseen_errors / self.unseen if self.unseen else float("nan")

    def as_dict(self) -> dict[str, Any]:
        """The JSON keys of `fourier-circuits transformer` (test_* = on the held-out part)."""
        return {
            "test_examples_seen_multisets": self.seen,
            "test_examples_unseen_multisets": self.unseen,
            "test_accuracy_seen_multisets": self.seen_accuracy,
            "test_accuracy_unseen_multisets": self.unseen_accuracy,
            "test_errors_seen_multisets": self.seen_errors,
            "test_errors_unseen_multisets": self.unseen_errors,
            "test_errors_listed": [
                {"inputs": list(x), "label": y, "predicted": z, "multiset_seen": s}
                for x, y, z, s in self.errors
            ],
        }


def multiset_codes(inputs: np.ndarray[Any, Any], p: int) -> np.ndarray[Any, Any]:
    """One integer per row of `inputs` (N, k) naming its multiset: the sorted row in base p."""
    rows = np.sort(np.asarray(inputs, dtype=np.int64), axis=1)
    weights = p ** np.arange(rows.shape[1] - 1, -1, -1, dtype=np.int64)
    return rows @ weights


def seen_in_training(
    train: np.ndarray[Any, Any], test: np.ndarray[Any, Any], p: int
) -> np.ndarray[Any, Any]:
    """For each row of `test`, whether some row of `train` is the same multiset."""
    return np.isin(multiset_codes(test, p), multiset_codes(train, p))


def multiset_breakdown(
    config: TransformerConfig, params: dict[str, np.ndarray[Any, Any]]
) -> MultisetBreakdown:
    """The held-out accuracy of `params` (the layout of constructions.transformer.model) on the
    split that `config` trains on (its seed and train_fraction), by multiset seen or unseen."""
    train, test = data_split(
        Task(config.p, config.k), config.train_fraction, np.random.default_rng(config.seed)
    )
    weights = {name: torch.as_tensor(value, dtype=torch.float64) for name, value in params.items()}
    inputs = torch.as_tensor(test, dtype=torch.int64)
    chunk = max(1, config.eval_chunk // 2)  # float64 here: half the examples of a float32 chunk
    with torch.no_grad():  # in chunks, so the activations stay bounded (one pass when small)
        z = torch.cat(
            [logits(weights, inputs[i : i + chunk]) for i in range(0, max(len(inputs), 1), chunk)]
        ).numpy()
    y = labels(test, config.p)
    rows = np.arange(len(y))
    right = z[rows, y]
    z[rows, y] = -np.inf
    wrong = ~(right > z.max(axis=1))  # correct: the label's logit strictly the largest
    predicted = z.argmax(axis=1)
    predicted[~wrong] = y[~wrong]
    seen = seen_in_training(train, test, config.p)
    order = np.flatnonzero(wrong)
    order = order[np.argsort(seen[order], kind="stable")][:LISTED_ERRORS]
    return MultisetBreakdown(
        seen=int(seen.sum()),
        unseen=int((~seen).sum()),
        seen_errors=int((wrong & seen).sum()),
        unseen_errors=int((wrong & ~seen).sum()),
        errors=tuple(
            (tuple(int(a) for a in test[i]), int(y[i]), int(predicted[i]), bool(seen[i]))
            for i in order
        ),
    )
