"""The toolkit's Transformer exported to TransformerLens (lens_state_from_transformer, `transformer
--save-lens`): loaded by the real library (transformer-lens < 4) with a strict load_state_dict,
the same logits as constructions.transformer.model in float64; read back by the toolkit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fourier_circuits.constructions.foreign import (
    lens_from_state,
    lens_logits,
    lens_state_from_transformer,
    load_state_dict,
)
from fourier_circuits.constructions.transformer import TransformerConfig
from fourier_circuits.experiments.cli import main
from fourier_circuits.theory import FourierCircuitsError, Task, all_inputs

pytestmark = pytest.mark.filterwarnings("ignore:HookedTransformer is deprecated:DeprecationWarning")

LOGIT_ATOL = 1e-12  # as tests/test_lens.py: two float64 orders of the same sums


@pytest.fixture(scope="module")
def tl() -> Any:
    torch = pytest.importorskip("torch")
    lens = pytest.importorskip("transformer_lens")
    return torch, lens.HookedTransformer, lens.HookedTransformerConfig


def toolkit_params(p: int, k: int, *, d_mlp: int, seed: int) -> dict[str, Any]:
    """The toolkit's Transformer with random weights and nonzero MLP biases, as torch float64."""
    import torch

    from fourier_circuits.constructions.transformer.model import init_params

    config = TransformerConfig(p=p, k=k, d_model=16, n_heads=2, d_head=8, d_mlp=d_mlp, steps=1)
    params = init_params(config, generator=torch.Generator().manual_seed(seed))
    for name in ("b1", "b2"):
        if name in params:
            params[name] = torch.randn(params[name].shape, dtype=torch.float64)
    return params


def load_into_lens(tl: Any, export: Any) -> Any:
    torch, HookedTransformer, HookedTransformerConfig = tl
    config = HookedTransformerConfig(**{**export.config, "dtype": torch.float64})
    model = HookedTransformer(config)
    model.load_state_dict({n: torch.from_numpy(np.array(a)) for n, a in export.tensors().items()})
    return model


@pytest.mark.parametrize("d_mlp", [24, 0])
def test_transformer_lens_computes_the_toolkits_logits(tl: Any, d_mlp: int) -> None:
    torch = tl[0]
    from fourier_circuits.constructions.transformer.model import logits, to_numpy, tokens

    p, k = 7, 3
    params = toolkit_params(p, k, d_mlp=d_mlp, seed=0)
    inputs = all_inputs(Task(p, k))
    ours = logits(params, torch.from_numpy(inputs)).numpy()
    export = lens_state_from_transformer(to_numpy(params))
    model = load_into_lens(tl, export)
    with torch.no_grad():
        theirs = model(torch.from_numpy(tokens(inputs, p)))[:, -1].numpy()
    np.testing.assert_allclose(theirs, ours, rtol=0, atol=LOGIT_ATOL)
    assert np.abs(ours).max() > 0.1  # not a trivially small function


def test_export_refuses_what_is_not_the_toolkits_transformer() -> None:
    with pytest.raises(FourierCircuitsError, match="lack"):
        lens_state_from_transformer({"E": np.zeros((6, 4))})
    params = {
        "E": np.zeros((6, 4)), "P": np.zeros((3, 4)), "WQ": np.zeros((2, 4, 2)),
        "WK": np.zeros((2, 4, 2)), "WV": np.zeros((2, 4, 2)), "WO": np.zeros((2, 2, 4)),
        "WU": np.zeros((4, 6)),
    }  # fmt: skip
    with pytest.raises(FourierCircuitsError, match=r"WU has shape \(4, 6\); expected \(4, 5\)"):
        lens_state_from_transformer(params)


def test_save_lens_round_trips_through_transformer_lens(
    tl: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    torch = tl[0]
    target = tmp_path / "model.pt"
    argv = ["transformer", "--p", "5", "--k", "2", "--steps", "20", "--d-model", "8"]
    argv += ["--n-heads", "2", "--d-head", "4", "--d-mlp", "16", "--eval-every", "10"]
    code = main([*argv, "--save-lens", str(target), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code in (0, 1) and data["save_lens"] == str(target)
    checkpoint = torch.load(target, weights_only=True)
    assert checkpoint["fourier_circuits"]["command"] == "transformer"
    _, HookedTransformer, HookedTransformerConfig = tl
    model = HookedTransformer(HookedTransformerConfig(**checkpoint["config"]))
    model.load_state_dict(checkpoint["model"])  # strict: every key, buffers included
    lens = lens_from_state(load_state_dict(target))
    inputs = all_inputs(Task(5, 2))
    from fourier_circuits.constructions.transformer.model import tokens

    with torch.no_grad():
        theirs = model(torch.from_numpy(tokens(inputs, 5)))[:, -1].numpy()
    np.testing.assert_allclose(lens_logits(lens, inputs), theirs, rtol=0, atol=LOGIT_ATOL)
    # an existing target is refused before training, and replaced with --force
    assert main([*argv, "--save-lens", str(target)]) == 2
    assert "exists" in capsys.readouterr().err
    assert main([*argv, "--save-lens", str(tmp_path / "model.npz")]) == 2
    assert ".pt or .pth" in capsys.readouterr().err
    assert main([*argv, "--save-lens", str(target), "--force"]) in (0, 1)


def test_the_exports_attention_analysis_is_the_toolkits() -> None:
    """The number-number view of analyse_lens is the toolkit's own (analyse_attention): the same
    pooled concentration for the same weights, read back through the export."""
    from fourier_circuits.constructions.foreign import analyse_lens, state_dict_from_mapping
    from fourier_circuits.constructions.transformer import analyse_attention
    from fourier_circuits.constructions.transformer.model import to_numpy

    params = to_numpy(toolkit_params(11, 2, d_mlp=8, seed=3))
    export = lens_state_from_transformer(params)
    lens = lens_from_state(state_dict_from_mapping(dict(export.state)))
    analysis = analyse_lens(lens, noise_samples=10)
    ours = analyse_attention(params)
    assert analysis.attention_fourier_concentration == pytest.approx(ours.concentration, rel=1e-12)
    assert analysis.head_concentrations == pytest.approx(ours.head_concentrations, rel=1e-12)
