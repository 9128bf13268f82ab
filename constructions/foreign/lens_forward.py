"""The forward pass of a LensModel in float64 numpy: TransformerLens's HookedTransformer (one
layer, standard positions, pre-norm), read out at the '=' position.

For the tokens a_1 .. a_k '=' (positions 0..k) and x_t = W_E[token_t] + W_pos[t]:

    q = N1(x_k) W_Q + b_Q,  key_t = N1(x_t) W_K + b_K,  v_t = N1(x_t) W_V + b_V      (per head)
    A_t = softmax_t( q . key_t / attn_scale )  over t = 0..k (the causal mask hides nothing
          from the last position)
    r = x_k + sum_heads (sum_t A_t v_t) W_O + b_O
    r <- r + act(N2(r) W_in + b_in) W_out + b_out        (no MLP: skipped)
    logits = Nf(r) W_U[:, :p] + b_U[:p]

N1, N2, Nf are the block's ln1, ln2 and ln_final (identity without normalisation): LN(x) =
(x - mean x) / sqrt(var x + eps) * w + b, LNPre the same without w, b, RMS(x) = x / sqrt(mean x^2
+ eps) * w, RMSPre without w. In one layer only the last position's output reaches the logits,
and N1(x_t) depends only on (t, a_t): keys, values and scores are computed once as tables over
the k p (position, number) pairs and gathered per example, as constructions.transformer.model
does. The tests compare the logits with TransformerLens's own forward pass (float64, 1e-12).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

import fourier_circuits.theory.budget as budget
from fourier_circuits.constructions.foreign.lens import LensModel
from fourier_circuits.theory import FourierCircuitsError
from fourier_circuits.theory._validation import FloatArray
from fourier_circuits.theory.task import IntArray

#: Most bytes of activations one chunk of examples may hold.
CHUNK_BYTES = 2**26


def activation(name: str, x: FloatArray) -> FloatArray:
    """TransformerLens's activation `name` (utilities.activation_functions) in numpy."""
    if name == "relu":
        return np.maximum(x, 0.0)
    if name == "gelu":  # torch.nn.functional.gelu: the exact x Phi(x)
        return 0.5 * x * (1.0 + special.erf(x / math.sqrt(2.0)))
    if name in ("gelu_new", "gelu_pytorch_tanh"):  # GPT-2's tanh approximation
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))
    if name == "gelu_fast":
        return 0.5 * x * (1.0 + np.tanh(x * 0.7978845608 * (1.0 + 0.044715 * x * x)))
    if name == "silu":
        return x * special.expit(x)
    raise FourierCircuitsError(f"activation {name!r} is not computed here")


def normalise(model: LensModel, which: str, x: FloatArray) -> FloatArray:
    """The normalisation `which` ("ln1", "ln2", "lnf") of the model over the last axis."""
    kind, w = model.normalization, model.weights
    if kind == "none":
        return x
    if kind in ("LN", "LNPre"):
        x = x - x.mean(axis=-1, keepdims=True)
    x = x / np.sqrt((x * x).mean(axis=-1, keepdims=True) + model.eps)
    if kind == "LN":
        return x * w[f"{which}_w"] + w[f"{which}_b"]
    if kind == "RMS":
        return x * w[f"{which}_w"]
    return x


@dataclass(frozen=True)
class Tables:
    """What the '=' position's attention needs, per (position, number) pair (module docstring).

    x_eq: (d,) the residual of '=';  query: (H, d_head) its queries;
    keys: (k, p, H, d_head) the keys of number a at position t;  key_eq: (H, d_head);
    scores: (k, p, H) q . key / attn_scale;  score_eq: (H,);
    values: (k, p, H, d_head);  value_eq: (H, d_head).
    """

    x_eq: FloatArray
    query: FloatArray
    keys: FloatArray
    key_eq: FloatArray
    scores: FloatArray
    score_eq: FloatArray
    values: FloatArray
    value_eq: FloatArray


def number_inputs(model: LensModel) -> FloatArray:
    """N1(W_E[a] + W_pos[t]) for t = 0..k-1, a = 0..p-1: (k, p, d)."""
    w = model.weights
    x = w["W_E"][: model.p][None, :, :] + w["W_pos"][: model.k][:, None, :]
    return normalise(model, "ln1", x)


def tables(model: LensModel) -> Tables:
    """The Tables of the model."""
    w = model.weights
    x_eq = w["W_E"][model.equals_token] + w["W_pos"][model.k]
    n_eq = normalise(model, "ln1", x_eq)
    n_num = number_inputs(model)
    query = np.einsum("d,hde->he", n_eq, w["W_Q"]) + w["b_Q"]
    keys = np.einsum("tad,hde->tahe", n_num, w["W_K"]) + w["b_K"]
    key_eq = np.einsum("d,hde->he", n_eq, w["W_K"]) + w["b_K"]
    values = np.einsum("tad,hde->tahe", n_num, w["W_V"]) + w["b_V"]
    value_eq = np.einsum("d,hde->he", n_eq, w["W_V"]) + w["b_V"]
    return Tables(
        x_eq=x_eq,
        query=query,
        keys=keys,
        key_eq=key_eq,
        scores=np.einsum("tahe,he->tah", keys, query) / model.attn_scale,
        score_eq=np.einsum("he,he->h", key_eq, query) / model.attn_scale,
        values=values,
        value_eq=value_eq,
    )


def _check_inputs(model: LensModel, inputs: Any) -> IntArray:
    a = np.asarray(inputs)
    if a.ndim != 2 or a.shape[1] != model.k or a.dtype.kind not in "iu":
        raise FourierCircuitsError(
            f"inputs has shape {a.shape} and dtype {a.dtype}; expected (N, k={model.k}) integers"
        )
    if a.size and (a.min() < 0 or a.max() >= model.p):
        raise FourierCircuitsError(f"inputs must lie in 0..{model.p - 1} (the number tokens)")
    return a.astype(np.int64)


def chunk_rows(model: LensModel) -> int:
    """Examples per chunk: activations of at most CHUNK_BYTES."""
    per_example = (model.k + 1) * model.n_heads * (model.d_head + 3) + 4 * model.d_model
    per_example += 2 * model.d_mlp + 3 * model.p
    return max(1, CHUNK_BYTES // (8 * per_example))


def forward(
    model: LensModel, inputs: Any, *, table: Tables | None = None
) -> tuple[FloatArray, FloatArray]:
    """(logits (N, p), MLP activations (N, d_mlp) at '=') of the inputs (N, k), in one block
    (callers chunk: at most chunk_rows(model) rows keep it within CHUNK_BYTES)."""
    a = _check_inputs(model, inputs)
    t = tables(model) if table is None else table
    w = model.weights
    n, k = a.shape
    position = np.arange(k)
    scores = np.concatenate(
        [t.scores[position, a], np.broadcast_to(t.score_eq, (n, 1, model.n_heads))], axis=1
    )  # (N, k+1, H)
    scores = scores - scores.max(axis=1, keepdims=True)  # softmax is shift-invariant
    weights = np.exp(scores)
    weights /= weights.sum(axis=1, keepdims=True)
    z = np.einsum("nth,nthe->nhe", weights[:, :k], t.values[position, a])
    z += weights[:, k, :, None] * t.value_eq
    resid = t.x_eq + np.einsum("nhe,hef->nf", z, w["W_O"]) + w["b_O"]
    if model.d_mlp:
        hidden = activation(model.act, normalise(model, "ln2", resid) @ w["W_in"] + w["b_in"])
        resid = resid + hidden @ w["W_out"] + w["b_out"]
    else:
        hidden = np.zeros((n, 0))
    logits = normalise(model, "lnf", resid) @ w["W_U"][:, : model.p] + w["b_U"][: model.p]
    return logits, hidden


def lens_logits(model: LensModel, inputs: Any) -> FloatArray:
    """The logits (N, p) float64 of the inputs (N, k) int (the sequences a_1 .. a_k '='),
    computed in chunks (module docstring)."""
    if not isinstance(model, LensModel):
        raise FourierCircuitsError(f"model={type(model).__name__} must be a LensModel")
    a = _check_inputs(model, inputs)
    budget.require_memory(f"the logits of {a.shape[0]} examples", 8 * a.shape[0] * model.p)
    t = tables(model)
    rows = chunk_rows(model)
    out = np.empty((a.shape[0], model.p))
    for start in range(0, a.shape[0], rows):
        out[start : start + rows] = forward(model, a[start : start + rows], table=t)[0]
    return out
