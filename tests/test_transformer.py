"""constructions.transformer: the table forward pass against the plain one, learning, determinism,
the attention analysis of a trained model, config errors; and issue 5's target as a slow test."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fourier_circuits.constructions.training import TrainingDivergedError
from fourier_circuits.constructions.transformer import (
    PAPER_SETTINGS,
    TEST_ACCURACY_CLAIM,
    TransformerConfig,
    attention_weights,
    logits,
    paper_config,
    reference_logits,
    tokens,
    train_transformer,
)
from fourier_circuits.constructions.transformer.model import init_params
from fourier_circuits.theory import FourierCircuitsError, noise_concentration

#: The two forward passes in float64 differ only by summation order (products reassociated).
FORWARD_RTOL = 1e-12


@settings(max_examples=20)
@given(
    p=st.sampled_from([3, 5, 7]),
    k=st.integers(2, 4),
    d_mlp=st.sampled_from([0, 16]),
    heads=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_table_forward_equals_the_plain_causal_transformer(
    p: int, k: int, d_mlp: int, heads: int, seed: int
) -> None:
    config = TransformerConfig(p=p, k=k, d_model=8, n_heads=heads, d_head=4, d_mlp=d_mlp)
    params = init_params(config, generator=torch.Generator().manual_seed(seed))
    inputs = np.random.default_rng(seed).integers(0, p, size=(30, k))
    fast = logits(params, torch.tensor(inputs))
    plain = reference_logits(params, torch.tensor(tokens(inputs, p)))
    scale = float(plain.abs().max())
    assert torch.allclose(fast, plain, rtol=0, atol=FORWARD_RTOL * scale)
    weights = attention_weights(params, torch.tensor(inputs))
    assert weights.shape == (30, heads, k + 1)
    assert torch.allclose(weights.sum(dim=-1), torch.ones(30, heads, dtype=torch.float64))


def test_tokens_end_with_the_equals_token() -> None:
    seq = tokens(np.array([[1, 2, 3], [0, 0, 4]]), 5)
    assert seq.tolist() == [[1, 2, 3, 5], [0, 0, 4, 5]]


def test_model_learns_a_tiny_case() -> None:
    """p = 7, k = 3 (171 training examples): fits the training half, far above chance on the
    rest."""
    result = train_transformer(
        TransformerConfig(p=7, k=3, seed=0, steps=300, eval_every=50, target_accuracy=None)
    )
    first, final = result.history[0], result.final
    assert first.train_accuracy < 0.4  # a random start: about chance, 1/7
    assert final.train_accuracy == 1.0
    assert final.test_accuracy > 0.5  # chance is 1/7
    assert final.train_loss < first.train_loss / 10
    assert result.stop_reason == "steps" and result.steps == 300
    assert result.failures() and "test accuracy >= 0.99" in result.failures()[0]


def test_same_seed_gives_the_same_numbers() -> None:
    config = TransformerConfig(p=5, k=3, seed=3, steps=60, eval_every=20, target_accuracy=None)
    first, second = train_transformer(config), train_transformer(config)
    strip = [{**r.as_dict(), "seconds": 0} for r in first.history]
    assert strip == [{**r.as_dict(), "seconds": 0} for r in second.history]
    for name, value in first.params.items():
        assert np.array_equal(value, second.params[name]), name
    other = train_transformer(TransformerConfig(p=5, k=3, seed=4, steps=60, target_accuracy=None))
    assert not np.array_equal(other.params["E"], first.params["E"])


@pytest.mark.slow
def test_same_seed_gives_the_same_numbers_on_two_threads() -> None:
    """On two CPU threads an indexing op's backward pass accumulates in a varying order unless
    torch's deterministic algorithms are on (training.loop.thread_limit): measured before, this
    run ended at three different test accuracies in three tries."""
    config = TransformerConfig(p=47, k=2, seed=0, steps=400, eval_every=50, threads=2)
    first, second = train_transformer(config), train_transformer(config)
    assert first.final.test_accuracy == second.final.test_accuracy
    for name, value in first.params.items():
        assert np.array_equal(value, second.params[name]), name
    assert not torch.are_deterministic_algorithms_enabled()  # restored after training


def test_analysis_of_a_random_model_sits_at_the_noise_level() -> None:
    """Negative control on real weights: at initialisation the query-key matrices are random."""
    config = TransformerConfig(p=11, k=3, steps=1, target_accuracy=None)
    analysis = train_transformer(config).analysis()
    level = noise_concentration(11, rng=np.random.default_rng(0))
    assert analysis.concentration < 2 * level
    assert len(analysis.heads) == config.n_heads
    assert analysis.matrices.shape == (config.n_heads, 11, 11)


def test_paper_settings_are_reachable() -> None:
    config = paper_config(31, 4, seed=2)
    assert (config.n_heads, config.d_model, config.lr, config.weight_decay) == (
        160,
        128,
        1e-3,
        1e-3,
    )
    assert config.batch_size == 1024 and (config.beta1, config.beta2) == (0.9, 0.98)
    assert config.warmup_steps == 10 and config.train_fraction == 0.5 and config.seed == 2
    assert all(getattr(config, key) == value for key, value in PAPER_SETTINGS.items())


def test_divergence_is_an_error_with_the_history() -> None:
    config = TransformerConfig(p=5, k=2, init_scale=1e30, steps=20, eval_every=1)
    with pytest.raises(TrainingDivergedError, match=r"non-finite|the loss became") as info:
        train_transformer(config)
    assert isinstance(info.value, FourierCircuitsError)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"p": 4}, "p=4 must be an odd integer"),
        ({"d_model": 0}, "d_model=0 must be a positive integer"),
        ({"d_mlp": -1}, "d_mlp=-1 must be an integer >= 0"),
        ({"train_fraction": 1.0}, "train_fraction=1.0 must lie in"),
        ({"lr": 0.0}, "lr=0.0 must be a positive finite number"),
        ({"beta2": 1.0}, "beta2=1.0 must lie in"),
        ({"dtype": "float16"}, "dtype='float16'"),
        ({"target_accuracy": 1.5}, "target_accuracy=1.5"),
    ],
)
def test_bad_config_is_named(kwargs: dict[str, object], words: str) -> None:
    arguments: dict[str, object] = {"p": 5, "k": 2, **kwargs}
    with pytest.raises(FourierCircuitsError, match=words):
        TransformerConfig(**arguments)  # type: ignore[arg-type]


@pytest.mark.slow
def test_issue_5_target_11_3_generalises_with_a_sparse_attention_spectrum() -> None:
    """(p, k) = (11, 3), 50% split, defaults: test accuracy >= 0.99 well within the budget (seed 0
    takes about 900 steps, 6 s), and every head's query-key matrix concentrated far above the
    noise level."""
    result = train_transformer(TransformerConfig(p=11, k=3, seed=0))
    assert result.stop_reason == "target"
    assert result.final.test_accuracy >= TEST_ACCURACY_CLAIM
    assert result.final.train_accuracy == 1.0
    analysis = result.analysis()
    level = noise_concentration(11, rng=np.random.default_rng(0))
    assert analysis.concentration > 2 * level
    assert min(analysis.head_concentrations) > 1.5 * level
    assert analysis.explained_share > 0.9
