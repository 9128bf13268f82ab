"""The toolkit's one-layer Transformer (constructions.transformer.model) in the TransformerLens
state-dict format, so that `HookedTransformer(HookedTransformerConfig(**config))
.load_state_dict(state)` (TransformerLens < 4) computes the same logits.

    from fourier_circuits.constructions.foreign import lens_state_from_transformer
    export = lens_state_from_transformer(result.params)     # TransformerResult.params
    export.tensors(), export.config                         # what `transformer --save-lens` saves

The architecture is expressible exactly, parameter by parameter:

    E (p+1, d)           -> embed.W_E          tokens 0..p-1 the numbers, '=' = p = d_vocab - 1
    P (k+1, d)           -> pos_embed.W_pos    learned positions ("standard"), n_ctx = k + 1
    WQ, WK, WV (H, d, e) -> blocks.0.attn.W_Q, W_K, W_V;   b_Q, b_K, b_V = 0 (the model has none)
    WO (H, e, d)         -> blocks.0.attn.W_O;  b_O = 0
    W1, b1, W2, b2       -> blocks.0.mlp.W_in, b_in, W_out, b_out  (act_fn "relu"; d_mlp = 0:
                            attn_only, no MLP keys)
    WU (d, p)            -> unembed.W_U;  b_U = 0;  d_vocab_out = p
    no LayerNorm          -> normalization_type None

Both scale scores by 1/sqrt(d_head) (TransformerLens's default attn_scale) and read the logits at
the last position, which TransformerLens's causal mask lets attend to every position, as the
toolkit's model does. Nothing is approximated; the tests load the export into TransformerLens
and compare the logits (float64) with constructions.transformer.model.logits to 1e-12.
The buffers TransformerLens 3.x keeps in its state dict (blocks.0.attn.mask, a lower-triangular
(n_ctx, n_ctx) bool matrix, and blocks.0.attn.IGNORE = -inf) are included by tensors(), so a
strict load_state_dict accepts the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from fourier_circuits.theory import FourierCircuitsError, Task
from fourier_circuits.theory._validation import FloatArray, check_array

_RENAMES = {
    "E": "embed.W_E",
    "P": "pos_embed.W_pos",
    "WQ": "blocks.0.attn.W_Q",
    "WK": "blocks.0.attn.W_K",
    "WV": "blocks.0.attn.W_V",
    "WO": "blocks.0.attn.W_O",
    "W1": "blocks.0.mlp.W_in",
    "b1": "blocks.0.mlp.b_in",
    "W2": "blocks.0.mlp.W_out",
    "b2": "blocks.0.mlp.b_out",
    "WU": "unembed.W_U",
}


@dataclass(frozen=True)
class LensExport:
    """A TransformerLens state dict: state (name -> float64 parameters), config
    (HookedTransformerConfig's fields, JSON-ready; dtype as the string "float64"), notes."""

    state: Mapping[str, FloatArray]
    config: Mapping[str, Any]
    notes: tuple[str, ...]

    def tensors(self) -> dict[str, np.ndarray]:
        """The parameters and TransformerLens 3.x's buffers (mask, IGNORE), as numpy arrays."""
        n_ctx = int(self.config["n_ctx"])
        out: dict[str, np.ndarray] = dict(self.state)
        out["blocks.0.attn.mask"] = np.tril(np.ones((n_ctx, n_ctx), dtype=bool))
        out["blocks.0.attn.IGNORE"] = np.array(-np.inf)
        return out


def lens_state_from_transformer(params: Mapping[str, Any]) -> LensExport:
    """The LensExport of the toolkit's Transformer parameters (constructions.transformer's
    layout, float64 numpy as TransformerResult.params or model.to_numpy give them)."""
    if not isinstance(params, Mapping):
        raise FourierCircuitsError(
            f"params={type(params).__name__} must be a mapping of the Transformer's arrays "
            "(TransformerResult.params)"
        )
    needed = ("E", "P", "WQ", "WK", "WV", "WO", "WU")
    missing = [name for name in needed if name not in params]
    mlp = [name for name in ("W1", "b1", "W2", "b2") if name in params]
    if missing or len(mlp) not in (0, 4):
        raise FourierCircuitsError(
            f"params lack {missing or [n for n in ('W1', 'b1', 'W2', 'b2') if n not in mlp]}; "
            "the toolkit's Transformer has E, P, WQ, WK, WV, WO, WU and optionally W1, b1, W2, b2"
        )
    unknown = sorted(set(params) - set(_RENAMES))
    if unknown:
        raise FourierCircuitsError(f"params has entries {unknown} that are not exported")
    arrays = {name: check_array(name, params[name]) for name in params}
    E, P, WQ = arrays["E"], arrays["P"], arrays["WQ"]
    if E.ndim != 2 or P.ndim != 2 or WQ.ndim != 3:
        raise FourierCircuitsError(
            f"E {E.shape}, P {P.shape}, WQ {WQ.shape}: expected (p+1, d), (k+1, d), (H, d, d_head)"
        )
    task = Task(E.shape[0] - 1, P.shape[0] - 1)
    d = E.shape[1]
    H, _, dh = WQ.shape
    dm = arrays["W1"].shape[-1] if mlp else 0
    expected = {
        "P": (task.k + 1, d),
        "WQ": (H, d, dh),
        "WK": (H, d, dh),
        "WV": (H, d, dh),
        "WO": (H, dh, d),
        "WU": (d, task.p),
    }
    if mlp:
        expected.update({"W1": (d, dm), "b1": (dm,), "W2": (dm, d), "b2": (d,)})
    for name, shape in expected.items():
        if arrays[name].shape != shape:
            raise FourierCircuitsError(
                f"{name} has shape {arrays[name].shape}; expected {shape} (from E {E.shape}, "
                f"WQ {WQ.shape})"
            )
    state: dict[str, FloatArray] = {_RENAMES[name]: arrays[name] for name in arrays}
    zeros = {
        "blocks.0.attn.b_Q": (H, dh),
        "blocks.0.attn.b_K": (H, dh),
        "blocks.0.attn.b_V": (H, dh),
        "blocks.0.attn.b_O": (d,),
        "unembed.b_U": (task.p,),
    }
    for name, shape in zeros.items():
        state[name] = np.zeros(shape)
    config: dict[str, Any] = {
        "model_name": "fourier-circuits-transformer",
        "n_layers": 1,
        "d_model": d,
        "n_ctx": task.k + 1,
        "d_head": dh,
        "n_heads": H,
        "d_mlp": dm or None,
        "attn_only": dm == 0,
        "d_vocab": task.p + 1,
        "d_vocab_out": task.p,
        "act_fn": "relu",
        "normalization_type": None,
        "positional_embedding_type": "standard",
        "default_prepend_bos": False,
        "dtype": "float64",
    }
    notes = (
        "exact: every parameter maps one to one (module docstring); b_Q, b_K, b_V, b_O, b_U are "
        "zero because the toolkit's model has none",
        f"tokens a_1 .. a_{task.k} '=' with '=' = {task.p} (d_vocab - 1); logits at the last "
        "position over the p classes",
        "attention only (attn_only=True)" if dm == 0 else f"ReLU MLP of width {dm}",
    )
    return LensExport(state=state, config=config, notes=notes)
