"""TransformerLens models read by the toolkit (constructions.foreign.lens*): built and trained with
the real library (transformer-lens < 4), saved as its users save them, and compared with its own
forward pass; the analyses against independent computations; negative controls."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fourier_circuits.constructions.foreign import (
    analyse_lens,
    is_lens_state,
    lens_from_state,
    lens_logits,
    load_state_dict,
    state_dict_from_mapping,
)
from fourier_circuits.constructions.foreign.lens_analysis import _pass
from fourier_circuits.constructions.training.loop import thread_limit
from fourier_circuits.theory import FourierCircuitsError
from fourier_circuits.theory.spectra import (
    frequency_vectors,
    single_frequency_shares,
    standout_frequencies,
    vector_spectrum,
)

# HookedTransformer's own deprecation notice (TransformerLens 3.x points to 4.0's bridge)
pytestmark = pytest.mark.filterwarnings("ignore:HookedTransformer is deprecated:DeprecationWarning")

#: float64 logits of the same function computed in two orders agree to round-off (~1e-15 x 10).
LOGIT_ATOL = 1e-12


@pytest.fixture(scope="module")
def tl() -> Any:
    """(torch, HookedTransformer, HookedTransformerConfig), imported once per module."""
    torch = pytest.importorskip("torch")
    lens = pytest.importorskip("transformer_lens")
    return torch, lens.HookedTransformer, lens.HookedTransformerConfig


def build(tl: Any, p: int, k: int, *, seed: int, jitter: float = 0.3, **cfg: Any) -> Any:
    """A HookedTransformer (float64) with every parameter, biases included, moved off its
    initial value by N(0, jitter^2)."""
    torch, HookedTransformer, HookedTransformerConfig = tl
    settings = dict(
        n_layers=1, d_model=16, n_ctx=k + 1, d_head=4, n_heads=3, d_mlp=24, d_vocab=p + 1,
        d_vocab_out=p, act_fn="relu", normalization_type=None, dtype=torch.float64, seed=seed,
    )  # fmt: skip
    settings.update(cfg)
    model = HookedTransformer(HookedTransformerConfig(**settings))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(jitter * torch.randn(parameter.shape, generator=generator))
    return model


def all_inputs(p: int, k: int) -> np.ndarray:
    return np.array(list(itertools.product(range(p), repeat=k)), dtype=np.int64)


def reference(tl: Any, model: Any, inputs: np.ndarray) -> np.ndarray:
    """TransformerLens's own logits at the '=' position of the sequences a_1 .. a_k '='."""
    torch = tl[0]
    p = model.cfg.d_vocab - 1
    tokens = np.concatenate([inputs, np.full((len(inputs), 1), p)], axis=1)
    with torch.no_grad():
        return model(torch.from_numpy(tokens))[:, -1].numpy()


@pytest.mark.parametrize(
    ("normalization", "act"),
    [(None, "relu"), ("LN", "gelu"), ("LN", "gelu_new"), ("RMS", "silu"), ("LNPre", "relu")],
)
def test_logits_equal_transformer_lens(
    tl: Any, tmp_path: Path, normalization: str | None, act: str
) -> None:
    torch = tl[0]
    p, k = 7, 3
    model = build(tl, p, k, seed=1, act_fn=act, normalization_type=normalization)
    inputs = all_inputs(p, k)
    expected = reference(tl, model, inputs)
    checkpoint = tmp_path / "grokking.pt"  # grokking-style: the state dict and its config
    torch.save({"model": model.state_dict(), "config": model.cfg.to_dict()}, checkpoint)
    lens = lens_from_state(load_state_dict(checkpoint))
    assert (lens.act, lens.normalization) == (act, normalization or "none")
    np.testing.assert_allclose(lens_logits(lens, inputs), expected, rtol=0, atol=LOGIT_ATOL)
    bare = tmp_path / "bare.pt"  # a bare state dict: the activation must be stated
    torch.save(model.state_dict(), bare)
    given = {"normalization": normalization} if normalization == "LNPre" else {}
    lens = lens_from_state(load_state_dict(bare), act=act, **given)
    assert any("inferred" in note for note in lens.notes)
    np.testing.assert_allclose(lens_logits(lens, inputs), expected, rtol=0, atol=LOGIT_ATOL)


def test_accuracy_and_logit_shares_match_independent_computations(tl: Any) -> None:
    p, k = 7, 2
    model = build(tl, p, k, seed=2, jitter=1.0)
    lens = lens_from_state(state_dict_from_mapping(model.state_dict()))
    inputs = all_inputs(p, k)
    logits = reference(tl, model, inputs)
    labels = inputs.sum(axis=1) % p
    analysis = analyse_lens(lens, seed=0, noise_samples=20)
    assert analysis.accuracy == np.mean(logits.argmax(axis=1) == labels)
    # the share of each frequency by least squares on the cos/sin directions over (a, c)
    centred = logits - logits.mean(axis=1, keepdims=True)
    c = np.arange(p)
    for w in range(1, (p - 1) // 2 + 1):
        angle = 2 * np.pi * w * (labels[:, None] - c[None, :]) / p
        basis = np.stack([np.cos(angle).ravel(), np.sin(angle).ravel()], axis=1)
        fit = basis @ np.linalg.lstsq(basis, centred.ravel(), rcond=None)[0]
        expected = float(fit @ fit / (centred.ravel() @ centred.ravel()))
        assert analysis.logit_variance_by_frequency[w - 1] == pytest.approx(expected, rel=1e-9)
    assert _pass(lens)[0] == analysis.n_correct


def train_lens_weights(p: int, *, steps: int, seed: int) -> dict[str, Any]:
    """TransformerLens-named weights (d_model 32, 2 heads of 16, ReLU MLP 64, no LayerNorm, no
    attention biases) trained on all of D_p (k = 2) with AdamW, cross-entropy at '=', weight
    decay 1 (Nanda et al.'s optimiser): a plain torch forward of the same function, 40x faster
    than HookedTransformer's hooks; TransformerLens then computes the logits that are checked."""
    import math

    import torch

    d, H, e, m = 32, 2, 16, 64
    generator = torch.Generator().manual_seed(seed)

    def normal(*shape: int, fan_in: int) -> torch.Tensor:
        x = torch.randn(shape, generator=generator, dtype=torch.float64) / math.sqrt(fan_in)
        return x.requires_grad_()

    weights = {
        "embed.W_E": normal(p + 1, d, fan_in=d),
        "pos_embed.W_pos": normal(3, d, fan_in=d),
        "blocks.0.attn.W_Q": normal(H, d, e, fan_in=d),
        "blocks.0.attn.W_K": normal(H, d, e, fan_in=d),
        "blocks.0.attn.W_V": normal(H, d, e, fan_in=d),
        "blocks.0.attn.W_O": normal(H, e, d, fan_in=H * e),
        "blocks.0.mlp.W_in": normal(d, m, fan_in=d),
        "blocks.0.mlp.b_in": torch.zeros(m, dtype=torch.float64, requires_grad=True),
        "blocks.0.mlp.W_out": normal(m, d, fan_in=m),
        "unembed.W_U": normal(d, p, fan_in=d),
    }
    inputs = all_inputs(p, 2)
    tokens = torch.from_numpy(np.concatenate([inputs, np.full((len(inputs), 1), p)], axis=1))
    labels = torch.from_numpy(inputs.sum(axis=1) % p)
    w = weights
    optimiser = torch.optim.AdamW(w.values(), lr=1e-2, weight_decay=1.0, betas=(0.9, 0.98))
    with thread_limit(1):  # one thread: deterministic, and 20x faster than two on a busy machine
        _train(w, tokens, labels, optimiser, steps=steps, e=e)
    return {name: value.detach() for name, value in weights.items()}


def _train(
    w: dict[str, Any], tokens: Any, labels: Any, optimiser: Any, *, steps: int, e: int
) -> None:
    import math

    import torch

    for _ in range(steps):
        x = w["embed.W_E"][tokens] + w["pos_embed.W_pos"]  # (N, 3, d)
        q = torch.einsum("nd,hde->nhe", x[:, -1], w["blocks.0.attn.W_Q"])
        keys = torch.einsum("ntd,hde->nthe", x, w["blocks.0.attn.W_K"])
        values = torch.einsum("ntd,hde->nthe", x, w["blocks.0.attn.W_V"])
        pattern = torch.softmax(torch.einsum("nhe,nthe->nht", q, keys) / math.sqrt(e), dim=-1)
        r = x[:, -1] + torch.einsum("nht,nthe,hef->nf", pattern, values, w["blocks.0.attn.W_O"])
        hidden = torch.relu(r @ w["blocks.0.mlp.W_in"] + w["blocks.0.mlp.b_in"])
        logits = (r + hidden @ w["blocks.0.mlp.W_out"]) @ w["unembed.W_U"]
        loss = torch.nn.functional.cross_entropy(logits, labels)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()


@pytest.mark.slow
def test_a_trained_model_passes_and_a_random_one_fails(tl: Any, tmp_path: Path) -> None:
    torch = tl[0]
    p = 13
    weights = train_lens_weights(p, steps=600, seed=1)
    model = build(tl, p, 2, seed=0, jitter=0.0, d_model=32, n_heads=2, d_head=16, d_mlp=64)
    state = model.state_dict()
    state.update({name: value for name, value in weights.items()})
    for name in ("b_Q", "b_K", "b_V", "b_O"):
        state[f"blocks.0.attn.{name}"] = torch.zeros_like(state[f"blocks.0.attn.{name}"])
    state["blocks.0.mlp.b_out"] = torch.zeros_like(state["blocks.0.mlp.b_out"])
    state["unembed.b_U"] = torch.zeros_like(state["unembed.b_U"])
    model.load_state_dict(state)
    torch.save(model.state_dict(), tmp_path / "trained.pt")
    inputs = all_inputs(p, 2)
    theirs = reference(tl, model, inputs)
    assert np.mean(theirs.argmax(axis=1) == inputs.sum(axis=1) % p) == 1.0  # TransformerLens's
    lens = lens_from_state(load_state_dict(tmp_path / "trained.pt"))
    np.testing.assert_allclose(lens_logits(lens, inputs), theirs, rtol=0, atol=LOGIT_ATOL)
    trained = analyse_lens(lens)
    assert trained.accuracy == 1.0
    assert trained.failures() == [], trained.as_dict()["claims"]
    assert trained.key_frequencies
    assert trained.logit_variance_explained_by_key_frequencies > 0.5
    random = analyse_lens(
        lens_from_state(state_dict_from_mapping(build(tl, p, 2, seed=4).state_dict()))
    )
    failed = [failure.split(":")[0] for failure in random.failures()]
    assert failed == ["accuracy", "attention_fourier", "attention_fourier_eq"]
    assert random.attention_fourier_concentration <= random.noise_concentration_q99
    assert random.key_frequencies == ()


def test_is_lens_state(tl: Any) -> None:
    state = build(tl, 5, 2, seed=0).state_dict()
    assert is_lens_state(state)
    assert not is_lens_state({"fc1.weight": np.zeros((3, 10)), "fc2.weight": np.zeros((5, 3))})


def tensors_of(tl: Any, **changes: Any) -> dict[str, Any]:
    state = {k: v.numpy() for k, v in build(tl, 5, 2, seed=0).state_dict().items()}
    state.update(changes)
    return state


def test_a_second_block_is_refused(tl: Any) -> None:
    state = tensors_of(tl, **{"blocks.1.attn.W_Q": np.zeros((3, 16, 4))})
    with pytest.raises(FourierCircuitsError, match=r"more than one block \(blocks\.1\.attn\.W_Q"):
        lens_from_state(state_dict_from_mapping(state))


def test_a_wrong_shape_is_refused(tl: Any) -> None:
    state = tensors_of(tl, **{"blocks.0.attn.W_K": np.zeros((3, 16, 5))})
    with pytest.raises(
        FourierCircuitsError,
        match=r"blocks\.0\.attn\.W_K has shape \(3, 16, 5\); expected \(3, 16, 4\)",
    ):
        lens_from_state(state_dict_from_mapping(state))


def test_unknown_keys_and_contradicting_configs_are_refused(tl: Any) -> None:
    state = tensors_of(tl, **{"blocks.0.mlp.W_gate": np.zeros((16, 24))})
    with pytest.raises(FourierCircuitsError, match="W_gate"):
        lens_from_state(state_dict_from_mapping(state))
    plain = tensors_of(tl)
    for config, pattern in (
        ({"d_model": 32}, "d_model=32 but the weights' shapes give 16"),
        ({"positional_embedding_type": "rotary"}, "positional_embedding_type='rotary'"),
        ({"n_layers": 2}, "n_layers=2"),
        ({"act_fn": "solu_ln"}, "act='solu_ln'"),
    ):
        with pytest.raises(FourierCircuitsError, match=pattern):
            lens_from_state(state_dict_from_mapping(plain, metadata={"config": config}))
    with pytest.raises(FourierCircuitsError, match="needs ln weights"):
        lens_from_state(state_dict_from_mapping(plain), normalization="LN")
    with pytest.raises(FourierCircuitsError, match=r"p=4 must be"):
        lens_from_state(state_dict_from_mapping(plain), p=4)


def test_a_smaller_k_and_wider_vocabularies_are_read(tl: Any) -> None:
    p = 5
    model = build(tl, p, 2, seed=5, n_ctx=4, d_vocab=p + 2, d_vocab_out=p + 2)
    lens = lens_from_state(state_dict_from_mapping(model.state_dict()), p=p, k=2)
    assert (lens.p, lens.k, lens.equals_token) == (p, 2, p + 1)
    inputs = all_inputs(p, 2)
    torch = tl[0]
    tokens = np.concatenate([inputs, np.full((len(inputs), 1), p + 1)], axis=1)
    with torch.no_grad():
        expected = model(torch.from_numpy(tokens))[:, -1, :p].numpy()
    np.testing.assert_allclose(lens_logits(lens, inputs), expected, rtol=0, atol=LOGIT_ATOL)


# --- theory.spectra ------------------------------------------------------------------------------
def test_vector_spectrum_of_a_cosine_is_concentrated() -> None:
    p = 11
    a = np.arange(p)
    spectrum = vector_spectrum(2.0 + np.cos(0.3 + 2 * np.pi * 4 * a / p), n_top=1)
    assert spectrum.top_frequencies == (4,)
    assert spectrum.concentration == pytest.approx(1.0)
    noise = vector_spectrum(np.random.default_rng(0).standard_normal(p), n_top=1)
    assert noise.concentration < 0.9  # control: a flat spectrum is not concentrated
    with pytest.raises(FourierCircuitsError, match="odd"):
        vector_spectrum(np.zeros(10))


def test_standout_frequencies() -> None:
    power = np.array([5.0, 1.0, 1.1, 9.0, 0.9, 1.0])
    assert standout_frequencies(power) == (3,)
    assert standout_frequencies(np.array([0.0, 8.0, 1.0, 6.0, 7.0, 1.1])) == (1, 4, 3)
    assert standout_frequencies(np.array([1.0, 1.0, 1.2, 0.9])) == ()  # control: nothing stands out
    assert standout_frequencies(np.array([1.0, 0.0, 2.0, 0.0, 0.0])) == (2,)
    rng = np.random.default_rng(0)  # noise summed over 16 coordinates: nothing stands out
    assert standout_frequencies(rng.chisquare(32, size=16)) == ()


def test_single_frequency_shares_equal_least_squares() -> None:
    p, k = 5, 3
    rng = np.random.default_rng(1)
    inputs = all_inputs(p, k)
    values = rng.standard_normal((2, p**k))
    angle = 2 * np.pi * 2 * inputs / p  # a function of frequency 2 only, plus a constant
    values[1] = 3 + np.cos(angle[:, 0] + 1) * np.sin(angle[:, 2]) + 0.5 * np.cos(angle[:, 1])
    shares = single_frequency_shares(values, p=p, k=k)
    assert shares[1] == pytest.approx([0.0, 1.0], abs=1e-12)
    for w in (1, 2):  # the span of the products of 1, cos, sin(2 pi w a_i / p), less constants
        theta = 2 * np.pi * w * inputs / p
        parts = [np.stack([np.ones(len(inputs)), np.cos(t), np.sin(t)]) for t in theta.T]
        columns = [np.prod([parts[i][c] for i, c in enumerate(choice)], axis=0)
                   for choice in itertools.product(range(3), repeat=k) if any(choice)]  # fmt: skip
        basis = np.stack(columns, axis=1)
        centred = values[0] - values[0].mean()
        basis = basis - basis.mean(axis=0)
        fit = basis @ np.linalg.lstsq(basis, centred, rcond=None)[0]
        assert shares[0, w - 1] == pytest.approx(fit @ fit / (centred @ centred), rel=1e-9)
    assert len(frequency_vectors(p, k, 1)) == 3**k - 1


@pytest.mark.slow
def test_inspect_reads_a_transformer_lens_file(
    tl: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from fourier_circuits.experiments.cli import main

    torch = tl[0]
    model = build(tl, 7, 2, seed=6, normalization_type="LN", act_fn="gelu")
    target = tmp_path / "grokking.pt"
    torch.save({"model": model.state_dict(), "config": model.cfg.to_dict()}, target)
    assert main(["inspect", str(target), "--json", "--out", str(tmp_path / "out")]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["format"] == "lens" and data["config"]["normalization_type"] == "LN"
    assert data["checked"] == ["accuracy", "attention_fourier", "attention_fourier_eq"]
    assert set(data["figures"]) == {"lens_attention.png", "lens_embedding.png", "lens_neurons.png"}
    assert all((tmp_path / "out" / name).is_file() for name in data["figures"])
    inputs = all_inputs(7, 2)
    expected = np.mean(reference(tl, model, inputs).argmax(axis=1) == inputs.sum(axis=1) % 7)
    assert data["accuracy"] == expected
    # --claims: the MLP claims' names stand for the Transformer's counterparts or do not apply
    assert main(["inspect", str(target), "--json", "--claims", "fourier,margin"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["checked"] == ["attention_fourier", "attention_fourier_eq"]
    assert "margin_reaches_gamma_star" in data["claims_not_applicable"]
    assert main(["inspect", str(target), "--json", "--claims", "none"]) == 0


def test_the_configs_attention_scale_is_used(tl: Any) -> None:
    model = build(tl, 5, 2, seed=7, use_attn_scale=False)
    inputs = all_inputs(5, 2)
    state = state_dict_from_mapping(model.state_dict(), metadata={"config": model.cfg.to_dict()})
    lens = lens_from_state(state)
    assert lens.attn_scale == 1.0
    expected = reference(tl, model, inputs)
    np.testing.assert_allclose(lens_logits(lens, inputs), expected, rtol=0, atol=LOGIT_ATOL)
    bare = lens_from_state(state_dict_from_mapping(model.state_dict()))  # control: sqrt(d_head)
    assert np.abs(lens_logits(bare, inputs) - expected).max() > 1e-6
