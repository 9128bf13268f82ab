"""constructions.transformer.multisets: held-out accuracy split by whether an example's multiset
occurs in the training half, checked against a count made with the plain causal Transformer."""

from __future__ import annotations

from itertools import permutations

import numpy as np
import torch

from fourier_circuits.constructions.training.model import data_split
from fourier_circuits.constructions.transformer import (
    TransformerConfig,
    multiset_breakdown,
    reference_logits,
    seen_in_training,
    tokens,
    train_transformer,
)
from fourier_circuits.constructions.transformer.multisets import multiset_codes
from fourier_circuits.theory import Task


def test_multiset_codes_name_exactly_the_multisets() -> None:
    rows = np.array(list(permutations([1, 1, 4])) + list(permutations([0, 2, 3])))
    codes = multiset_codes(rows, 5)
    assert len(set(codes[:6].tolist())) == 1 and len(set(codes[6:].tolist())) == 1
    assert codes[0] != codes[6]
    assert multiset_codes(np.array([[0, 4], [4, 0], [1, 3]]), 5).tolist() == [4, 4, 8]


def test_seen_in_training_on_a_hand_made_split() -> None:
    train = np.array([[0, 1, 2], [3, 3, 4]])
    test = np.array([[2, 1, 0], [4, 3, 3], [3, 4, 4], [1, 1, 1]])
    assert seen_in_training(train, test, 5).tolist() == [True, True, False, False]


def _count_by_hand(config: TransformerConfig, params: dict[str, np.ndarray]) -> tuple[int, ...]:
    """(seen, unseen, seen errors, unseen errors) with the plain causal forward pass and sets of
    sorted tuples: an independent route to the same four numbers."""
    train, test = data_split(
        Task(config.p, config.k), config.train_fraction, np.random.default_rng(config.seed)
    )
    weights = {name: torch.as_tensor(v, dtype=torch.float64) for name, v in params.items()}
    with torch.no_grad():
        z = reference_logits(weights, torch.tensor(tokens(test, config.p))).numpy()
    in_training = {tuple(sorted(row)) for row in train.tolist()}
    counts = [0, 0, 0, 0]
    for row, scores in zip(test.tolist(), z, strict=True):
        label = sum(row) % config.p
        others = np.delete(scores, label)
        wrong = not scores[label] > others.max()
        seen = tuple(sorted(row)) in in_training
        counts[0 if seen else 1] += 1
        counts[2 if seen else 3] += wrong
    return tuple(counts)


def test_breakdown_agrees_with_a_count_by_hand_and_with_the_test_accuracy() -> None:
    config = TransformerConfig(p=7, k=3, seed=1, steps=300, eval_every=100, target_accuracy=None)
    result = train_transformer(config)
    for params in (result.initial, result.params):  # a random start, then a trained model
        where = multiset_breakdown(config, params)
        assert (
            where.seen,
            where.unseen,
            where.seen_errors,
            where.unseen_errors,
        ) == _count_by_hand(config, params)
    where = result.multisets()
    n_test = where.seen + where.unseen
    assert n_test == 7**3 - config.n_train and where.unseen > 0
    errors = where.seen_errors + where.unseen_errors
    assert abs((1 - errors / n_test) - result.final.test_accuracy) < 1e-12
    listed = where.as_dict()["test_errors_listed"]
    assert len(listed) == min(errors, 10)
    for error in listed:  # each listed error is one: wrong label, and the true label is the sum
        assert error["label"] == sum(error["inputs"]) % 7 and error["predicted"] != error["label"]


def test_an_untrained_model_is_wrong_on_seen_multisets_too() -> None:
    """Negative control: the split by multiset is not an artefact that always puts the errors on
    unseen multisets; a random model errs on seen ones, where a trained one does not."""
    config = TransformerConfig(p=7, k=3, seed=1, steps=300, eval_every=100, target_accuracy=None)
    result = train_transformer(config)
    start, end = multiset_breakdown(config, result.initial), result.multisets()
    assert start.seen_accuracy < 0.5
    assert end.seen_accuracy > start.seen_accuracy + 0.4
