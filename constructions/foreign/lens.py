"""One-layer Transformers saved in the TransformerLens state-dict format, read as a LensModel.

    from fourier_circuits.constructions.foreign import load_state_dict, lens_from_state
    model = lens_from_state(load_state_dict("grokking.pt"))  # bare, or {"model", "config"}
    model.p, model.k, model.notes                             # what was read, what was inferred

The format (TransformerLens < 4, `HookedTransformer.state_dict()`; Nanda et al., arXiv 2301.05217,
train such models on the tokens a_1 .. a_k '='):

    embed.W_E (d_vocab, d_model)          pos_embed.W_pos (n_ctx, d_model)
    blocks.0.attn.W_Q, W_K, W_V (n_heads, d_model, d_head)   b_Q, b_K, b_V (n_heads, d_head)
    blocks.0.attn.W_O (n_heads, d_head, d_model)             b_O (d_model,)
    blocks.0.mlp.W_in (d_model, d_mlp), b_in (d_mlp,), W_out (d_mlp, d_model), b_out (d_model,)
    blocks.0.ln1.w/.b, blocks.0.ln2.w/.b, ln_final.w/.b (d_model,)    (LayerNorm models only)
    unembed.W_U (d_model, d_vocab_out), unembed.b_U (d_vocab_out,)

Buffers (blocks.0.attn.mask, IGNORE) are ignored. What the file does not say is inferred from the
shapes and stated in `notes`: p = d_vocab - 1, with '=' the last token id (d_vocab - 1) and the
numbers 0..p-1 (a smaller p may be given: the tokens p..d_vocab-2 are then unused); k = n_ctx - 1
(a smaller k may be given: the sequence is shorter than the context); n_heads and d_head from
W_Q; d_mlp from W_in (no MLP keys: attention only); the activation from the config's act_fn, else
ReLU (Nanda et al.'s); the normalisation from the config's normalization_type, else LayerNorm
("LN") when ln weights with biases are present, RMSNorm ("RMS") when weights alone, none when
neither (LNPre/RMSPre have no weights: only the config or `normalization` says so). Missing
biases are zero. The logits are the p number classes (columns 0..p-1 of W_U).

Refused, with the key, its shape and what was expected: a second block, wrong shapes, unknown
keys (a gated MLP, grouped keys), a config that contradicts the shapes or asks for what this
reader does not compute (rotary positions, parallel attention and MLP, soft caps, ...).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from fourier_circuits.constructions.foreign.files import StateDict
from fourier_circuits.constructions.foreign.lens_config import (
    ACTIVATIONS,
    BLOCK,
    DEFAULT_ACT,
    DEFAULT_EPS,
    KEYS,
    SIGNATURE,
    attn_scale,
    check_config,
    choose,
    config_of,
    normalization_of,
    positive,
    task_size,
)
from fourier_circuits.theory import FourierCircuitsError
from fourier_circuits.theory._validation import FloatArray, check_array

_BUFFERS = re.compile(r"(^|\.)(mask|IGNORE|rotary_sin|rotary_cos)$")


@dataclass(frozen=True)
class LensModel:
    """A one-layer TransformerLens model as float64 arrays (module docstring).

    weights: short name -> read-only float64 array: W_E (d_vocab, d), W_pos (n_ctx, d), W_Q, W_K,
        W_V (H, d, d_head), b_Q, b_K, b_V (H, d_head), W_O (H, d_head, d), b_O (d,), W_U
        (d, d_vocab_out), b_U (d_vocab_out,); W_in (d, d_mlp), b_in, W_out (d_mlp, d), b_out when
        d_mlp > 0; ln1_w/_b, ln2_w/_b, lnf_w/_b (d,) when the normalisation has them.
    equals_token: the id of '=' (d_vocab - 1); attn_scale: scores are q . k / attn_scale;
    notes: what was read from the config and what was inferred from shapes or defaulted.
    """

    p: int
    k: int
    d_model: int
    n_heads: int
    d_head: int
    d_mlp: int
    act: str
    normalization: str
    eps: float
    attn_scale: float
    equals_token: int
    weights: Mapping[str, FloatArray]
    notes: tuple[str, ...]
    source: str = "<memory>"

    @property
    def d_vocab(self) -> int:
        return int(self.weights["W_E"].shape[0])

    @property
    def n_ctx(self) -> int:
        return int(self.weights["W_pos"].shape[0])

    @property
    def d_vocab_out(self) -> int:
        return int(self.weights["W_U"].shape[1])

    def config(self) -> dict[str, Any]:
        """The model's configuration under TransformerLens's names, JSON-ready."""
        return {
            "n_layers": 1,
            "d_model": self.d_model,
            "n_ctx": self.n_ctx,
            "d_head": self.d_head,
            "n_heads": self.n_heads,
            "d_mlp": self.d_mlp or None,
            "attn_only": self.d_mlp == 0,
            "d_vocab": self.d_vocab,
            "d_vocab_out": self.d_vocab_out,
            "act_fn": self.act,
            "normalization_type": None if self.normalization == "none" else self.normalization,
            "eps": self.eps,
            "attn_scale": self.attn_scale,
            "positional_embedding_type": "standard",
        }


def is_lens_state(tensors: Mapping[str, Any]) -> bool:
    """Whether the tensors look like a TransformerLens state dict (embed.W_E,
    blocks.0.attn.W_Q and unembed.W_U present)."""
    return all(key in tensors for key in SIGNATURE)


def _refuse_unknown(tensors: Mapping[str, np.ndarray], where: str) -> None:
    known = set(KEYS.values())
    deeper = sorted(k for k in tensors if k.startswith("blocks.") and not k.startswith(BLOCK))
    if deeper:
        shown = ", ".join(deeper[:6]) + (" ..." if len(deeper) > 6 else "")
        raise FourierCircuitsError(
            f"{where}: it has more than one block ({shown}); only one-layer Transformers are "
            "read (the theory of arXiv 2402.09469, Sec. 5, and Nanda et al.'s grokking model "
            "have one)"
        )
    unknown = sorted(k for k in tensors if k not in known and not _BUFFERS.search(k))
    if unknown:
        raise FourierCircuitsError(
            f"{where}: keys {unknown[:6]} are not part of a one-layer TransformerLens model "
            "with standard positions, attention, an optional ReLU/GELU MLP and optional "
            f"LayerNorm (known keys: {', '.join(KEYS.values())}); this reader does not "
            "compute what they would do"
        )


def _shape_rule(name: str, array: np.ndarray, expected: tuple[int, ...], meaning: str) -> None:
    if tuple(array.shape) != expected:
        raise FourierCircuitsError(
            f"{KEYS[name]} has shape {tuple(array.shape)}; expected {expected} ({meaning})"
        )


def lens_from_state(
    state: StateDict,
    *,
    p: int | None = None,
    k: int | None = None,
    act: str | None = None,
    normalization: str | None = None,
) -> LensModel:
    """The LensModel of a TransformerLens state dict (module docstring for what is inferred).

    p, k: the modulus and the number of summands, by default d_vocab - 1 and n_ctx - 1; act: one
    of ACTIVATIONS, by default the config's act_fn, else "relu"; normalization: one of
    NORMALIZATIONS, by default the config's normalization_type, else what the ln weights show.
    """
    if not isinstance(state, StateDict):
        raise FourierCircuitsError(
            f"state={type(state).__name__} must be a StateDict (constructions.foreign."
            "load_state_dict or state_dict_from_mapping)"
        )
    where = f"TransformerLens state dict {state.path!r}"
    tensors = state.tensors
    missing = [key for key in (*SIGNATURE, "pos_embed.W_pos") if key not in tensors]
    missing += [KEYS[n] for n in ("W_K", "W_V", "W_O") if KEYS[n] not in tensors]
    if missing:
        raise FourierCircuitsError(f"{where}: keys {missing} are missing")
    _refuse_unknown(tensors, where)
    config, config_key = config_of(state)
    notes: list[str] = []
    if config:
        notes.append(f"config read from the checkpoint's {config_key!r} entry")
    else:
        notes.append("no config in the file: everything below inferred from the shapes")
    raw = {name: np.asarray(tensors[key]) for name, key in KEYS.items() if key in tensors}
    E, Q = raw["W_E"], raw["W_Q"]
    if E.ndim != 2 or Q.ndim != 3:
        raise FourierCircuitsError(
            f"{where}: embed.W_E has shape {E.shape} (expected (d_vocab, d_model)) and "
            f"blocks.0.attn.W_Q {Q.shape} (expected (n_heads, d_model, d_head))"
        )
    d_vocab, d = E.shape
    H, _, dh = Q.shape
    _shape_rule("W_Q", Q, (H, d, dh), "n_heads, d_model = embed.W_E's columns, d_head")
    n_ctx = raw["W_pos"].shape[0] if raw["W_pos"].ndim == 2 else -1
    _shape_rule("W_pos", raw["W_pos"], (max(n_ctx, 0), d), "n_ctx, d_model")
    W_U = raw["W_U"]
    d_out = W_U.shape[1] if W_U.ndim == 2 else -1
    _shape_rule("W_U", W_U, (d, max(d_out, 0)), "d_model, d_vocab_out")
    has_mlp = "W_in" in raw or "W_out" in raw
    if has_mlp and not ("W_in" in raw and "W_out" in raw):
        raise FourierCircuitsError(f"{where}: blocks.0.mlp.W_in and W_out must come together")
    dm = raw["W_in"].shape[-1] if has_mlp and raw["W_in"].ndim == 2 else 0
    expected: dict[str, tuple[tuple[int, ...], str]] = {
        "W_K": ((H, d, dh), "n_heads, d_model, d_head as W_Q"),
        "W_V": ((H, d, dh), "n_heads, d_model, d_head as W_Q"),
        "W_O": ((H, dh, d), "n_heads, d_head, d_model"),
        "b_Q": ((H, dh), "n_heads, d_head"),
        "b_K": ((H, dh), "n_heads, d_head"),
        "b_V": ((H, dh), "n_heads, d_head"),
        "b_O": ((d,), "d_model"),
        "b_U": ((d_out,), "d_vocab_out = unembed.W_U's columns"),
    }
    if has_mlp:
        expected["W_in"] = ((d, dm), "d_model, d_mlp")
        expected["b_in"] = ((dm,), "d_mlp = W_in's columns")
        expected["W_out"] = ((dm, d), "d_mlp, d_model")
        expected["b_out"] = ((d,), "d_model")
    for name in ("ln1_w", "ln1_b", "ln2_w", "ln2_b", "lnf_w", "lnf_b"):
        expected[name] = ((d,), "d_model")
    for name, (shape, meaning) in expected.items():
        if name in raw:
            _shape_rule(name, raw[name], shape, meaning)
    shapes = {"d_vocab": d_vocab, "d_model": d, "n_heads": H, "d_head": dh, "n_ctx": n_ctx}
    shapes.update({"d_vocab_out": d_out, "d_mlp": dm})
    check_config(config, shapes, where)
    if config.get("attn_only") and has_mlp:
        raise FourierCircuitsError(f"{where}: its config says attn_only but it has MLP weights")
    p_value, k_value = task_size(p, k, d_vocab=d_vocab, n_ctx=n_ctx, d_out=d_out, notes=notes)
    act_value, act_source = choose("act", act, config, "act_fn", ACTIVATIONS)
    if not has_mlp:
        act_value, act_source = "none", "attention only (no MLP keys)"
    elif act_value is None:
        act_value, act_source = DEFAULT_ACT, "not in the file: ReLU assumed (Nanda et al.'s)"
    notes.append(f"activation {act_value!r}: {act_source}")
    norm_value, norm_note = normalization_of(normalization, config, tensors)
    notes.append(norm_note)
    notes.append(f"n_heads={H}, d_head={dh} from blocks.0.attn.W_Q {Q.shape}; d_model={d}")
    notes.append(f"d_mlp={dm} from blocks.0.mlp.W_in" if has_mlp else "no MLP (attention only)")
    absent = [KEYS[n] for n in ("b_Q", "b_K", "b_V", "b_O", "b_U") if n not in raw]
    absent += [KEYS[n] for n in ("b_in", "b_out") if has_mlp and n not in raw]
    if absent:
        notes.append(f"biases absent, taken as zero: {', '.join(absent)}")
    eps = positive(config.get("eps"), DEFAULT_EPS, "eps")
    scale = attn_scale(config, dh)
    if "attn_scale" not in config and "use_attn_scale" not in config:
        notes.append(f"attention scores divided by sqrt(d_head) = {scale:.6g} (the default)")
    weights: dict[str, FloatArray] = {}
    zeros = {"b_Q": (H, dh), "b_K": (H, dh), "b_V": (H, dh), "b_O": (d,), "b_U": (d_out,)}
    if has_mlp:
        zeros.update({"b_in": (dm,), "b_out": (d,)})
    for name, array in raw.items():
        weights[name] = check_array(KEYS[name], array)  # finite, read-only float64
    for name, shape in zeros.items():
        if name not in weights:
            zero = np.zeros(shape)
            zero.setflags(write=False)
            weights[name] = zero
    return LensModel(
        p=p_value,
        k=k_value,
        d_model=d,
        n_heads=H,
        d_head=dh,
        d_mlp=dm,
        act=act_value,
        normalization=norm_value,
        eps=eps,
        attn_scale=scale,
        equals_token=d_vocab - 1,
        weights=weights,
        notes=tuple(notes),
        source=state.path,
    )
