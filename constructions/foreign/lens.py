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

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from fourier_circuits.constructions.foreign.files import StateDict
from fourier_circuits.theory import FourierCircuitsError, Task
from fourier_circuits.theory._validation import FloatArray, check_array, check_int

#: Activations computed (TransformerLens's act_fn names).
ACTIVATIONS = ("relu", "gelu", "gelu_new", "gelu_fast", "gelu_pytorch_tanh", "silu")
#: Normalisations computed ("none": no LayerNorm; TransformerLens's normalization_type names).
NORMALIZATIONS = ("none", "LN", "LNPre", "RMS", "RMSPre")
#: Activation when neither the caller nor the config names one (Nanda et al.'s grokking model).
DEFAULT_ACT = "relu"
#: TransformerLens's default LayerNorm epsilon.
DEFAULT_EPS = 1e-5
#: Keys that identify a TransformerLens state dict (is_lens_state).
SIGNATURE = ("embed.W_E", "blocks.0.attn.W_Q", "unembed.W_U")

_BLOCK = "blocks.0."
# short name -> stored key; the order is that of a state dict
_KEYS = {
    "W_E": "embed.W_E",
    "W_pos": "pos_embed.W_pos",
    "ln1_w": "blocks.0.ln1.w",
    "ln1_b": "blocks.0.ln1.b",
    "W_Q": "blocks.0.attn.W_Q",
    "b_Q": "blocks.0.attn.b_Q",
    "W_K": "blocks.0.attn.W_K",
    "b_K": "blocks.0.attn.b_K",
    "W_V": "blocks.0.attn.W_V",
    "b_V": "blocks.0.attn.b_V",
    "W_O": "blocks.0.attn.W_O",
    "b_O": "blocks.0.attn.b_O",
    "ln2_w": "blocks.0.ln2.w",
    "ln2_b": "blocks.0.ln2.b",
    "W_in": "blocks.0.mlp.W_in",
    "b_in": "blocks.0.mlp.b_in",
    "W_out": "blocks.0.mlp.W_out",
    "b_out": "blocks.0.mlp.b_out",
    "lnf_w": "ln_final.w",
    "lnf_b": "ln_final.b",
    "W_U": "unembed.W_U",
    "b_U": "unembed.b_U",
}
_BUFFERS = re.compile(r"(^|\.)(mask|IGNORE|rotary_sin|rotary_cos)$")
# config entries whose non-default values change the forward pass beyond what is computed here
_UNSUPPORTED: dict[str, Any] = {
    "positional_embedding_type": "standard",
    "parallel_attn_mlp": False,
    "gated_mlp": False,
    "use_qk_norm": False,
    "use_local_attn": False,
    "use_logn_attn": False,
    "post_embedding_ln": False,
    "use_normalization_before_and_after": False,
    "final_rms": False,
    "n_key_value_heads": None,
    "clip_qkv": None,
    "num_experts": None,
    "use_attention_sinks": False,
}


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


def _config_of(state: StateDict) -> tuple[Mapping[str, Any], str]:
    """The checkpoint's config (HookedTransformerConfig's fields) and its key, or ({}, "")."""
    for key in ("config", "cfg"):
        value = state.metadata.get(key)
        if isinstance(value, Mapping):
            return value, key
    return {}, ""


def _refuse_unknown(tensors: Mapping[str, np.ndarray], where: str) -> None:
    known = set(_KEYS.values())
    deeper = sorted(k for k in tensors if k.startswith("blocks.") and not k.startswith(_BLOCK))
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
            f"LayerNorm (known keys: {', '.join(_KEYS.values())}); this reader does not "
            "compute what they would do"
        )


def _shape_rule(name: str, array: np.ndarray, expected: tuple[int, ...], meaning: str) -> None:
    if tuple(array.shape) != expected:
        raise FourierCircuitsError(
            f"{_KEYS[name]} has shape {tuple(array.shape)}; expected {expected} ({meaning})"
        )


def _check_config(config: Mapping[str, Any], shapes: Mapping[str, int], where: str) -> None:
    """Refuse a config that contradicts the shapes or asks for an unsupported forward pass."""
    layers = config.get("n_layers")
    if layers is not None and layers != 1:
        raise FourierCircuitsError(f"{where}: its config has n_layers={layers!r}; only 1 is read")
    for name, value in shapes.items():
        given = config.get(name)
        if name == "d_mlp" and (given is None or given == -1 or config.get("attn_only")):
            continue
        if given is not None and given != -1 and given != value:  # -1: TransformerLens's unset
            raise FourierCircuitsError(
                f"{where}: its config says {name}={given!r} but the weights' shapes give {value}"
            )
    for name, default in _UNSUPPORTED.items():
        value = config.get(name, default)
        if value != default and not (default is None and value in (None, -1)):
            raise FourierCircuitsError(
                f"{where}: its config has {name}={value!r}; this reader computes only "
                f"{name}={default!r}"
            )
    for cap in ("attn_scores_soft_cap", "output_logits_soft_cap"):
        value = config.get(cap, -1.0)
        if value is not None and float(value) > 0:
            raise FourierCircuitsError(f"{where}: its config has {cap}={value!r}; not computed")


def _choose(
    what: str, given: str | None, config: Mapping[str, Any], key: str, allowed: tuple[str, ...]
) -> tuple[str | None, str]:
    """(value, how it was chosen) of a caller's argument or the config's entry, or (None, '')."""
    if given is not None:
        source = "given"
        value = given
    elif key in config:
        source = f"read from the config's {key}"
        value = "none" if config[key] is None else str(config[key])
    else:
        return None, ""
    if value not in allowed:
        raise FourierCircuitsError(f"{what}={value!r} ({source}) must be one of {allowed}")
    return value, source


def _normalization(
    given: str | None, config: Mapping[str, Any], tensors: Mapping[str, np.ndarray]
) -> tuple[str, str]:
    has_w = _KEYS["ln1_w"] in tensors or _KEYS["lnf_w"] in tensors
    has_b = _KEYS["ln1_b"] in tensors or _KEYS["lnf_b"] in tensors
    seen = "LN" if has_w and has_b else "RMS" if has_w else "none"
    value, source = _choose("normalization", given, config, "normalization_type", NORMALIZATIONS)
    if value is None:
        note = (
            f"normalisation {seen!r} inferred from the ln weights present"
            if seen != "none"
            else "no LayerNorm: no ln weights (LNPre/RMSPre, which have none, need the config "
            "or normalization=)"
        )
        return seen, note
    weighted = {"LN": "LN", "RMS": "RMS"}.get(value, "none")
    if weighted != seen:
        raise FourierCircuitsError(
            f"normalization {value!r} ({source}) needs ln weights of kind {weighted!r}, but the "
            f"state dict's are {seen!r} (ln1.w present: {has_w}, ln1.b present: {has_b})"
        )
    return value, f"normalisation {value!r} {source}"


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
    missing += [_KEYS[n] for n in ("W_K", "W_V", "W_O") if _KEYS[n] not in tensors]
    if missing:
        raise FourierCircuitsError(f"{where}: keys {missing} are missing")
    _refuse_unknown(tensors, where)
    config, config_key = _config_of(state)
    notes: list[str] = []
    if config:
        notes.append(f"config read from the checkpoint's {config_key!r} entry")
    else:
        notes.append("no config in the file: everything below inferred from the shapes")
    raw = {name: np.asarray(tensors[key]) for name, key in _KEYS.items() if key in tensors}
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
    _check_config(config, shapes, where)
    if config.get("attn_only") and has_mlp:
        raise FourierCircuitsError(f"{where}: its config says attn_only but it has MLP weights")
    p_value, k_value = _task_size(p, k, d_vocab=d_vocab, n_ctx=n_ctx, d_out=d_out, notes=notes)
    act_value, act_source = _choose("act", act, config, "act_fn", ACTIVATIONS)
    if not has_mlp:
        act_value, act_source = "none", "attention only (no MLP keys)"
    elif act_value is None:
        act_value, act_source = DEFAULT_ACT, "not in the file: ReLU assumed (Nanda et al.'s)"
    notes.append(f"activation {act_value!r}: {act_source}")
    norm_value, norm_note = _normalization(normalization, config, tensors)
    notes.append(norm_note)
    notes.append(f"n_heads={H}, d_head={dh} from blocks.0.attn.W_Q {Q.shape}; d_model={d}")
    notes.append(f"d_mlp={dm} from blocks.0.mlp.W_in" if has_mlp else "no MLP (attention only)")
    absent = [_KEYS[n] for n in ("b_Q", "b_K", "b_V", "b_O", "b_U") if n not in raw]
    absent += [_KEYS[n] for n in ("b_in", "b_out") if has_mlp and n not in raw]
    if absent:
        notes.append(f"biases absent, taken as zero: {', '.join(absent)}")
    eps = _positive(config.get("eps"), DEFAULT_EPS, "eps")
    scale = _attn_scale(config, dh)
    if "attn_scale" not in config and "use_attn_scale" not in config:
        notes.append(f"attention scores divided by sqrt(d_head) = {scale:.6g} (the default)")
    weights: dict[str, FloatArray] = {}
    zeros = {"b_Q": (H, dh), "b_K": (H, dh), "b_V": (H, dh), "b_O": (d,), "b_U": (d_out,)}
    if has_mlp:
        zeros.update({"b_in": (dm,), "b_out": (d,)})
    for name, array in raw.items():
        weights[name] = check_array(_KEYS[name], array)  # finite, read-only float64
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


def _positive(value: Any, default: float, name: str) -> float:
    """A config's positive finite number, or the default when it is absent (None)."""
    if value is None:
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not (math.isfinite(number) and number > 0):
        raise FourierCircuitsError(f"the config's {name}={value!r} must be a positive number")
    return number


def _attn_scale(config: Mapping[str, Any], d_head: int) -> float:
    """TransformerLens: scores / attn_scale, attn_scale = sqrt(d_head) unless the config sets it
    (attn_scale > 0), or 1 when use_attn_scale is False."""
    if config.get("use_attn_scale", True) is False:
        return 1.0
    given = config.get("attn_scale", -1.0)
    if given is None or (isinstance(given, (int, float)) and given == -1):
        return math.sqrt(d_head)  # TransformerLens's default
    return _positive(given, math.sqrt(d_head), "attn_scale")


def _task_size(
    p: int | None, k: int | None, *, d_vocab: int, n_ctx: int, d_out: int, notes: list[str]
) -> tuple[int, int]:
    """p and k given or inferred (p = d_vocab - 1, k = n_ctx - 1), validated by theory.Task."""
    if p is None:
        p_value = d_vocab - 1
        notes.append(f"p={p_value} inferred: d_vocab - 1, '=' is the last token id {d_vocab - 1}")
    else:
        p_value = check_int(
            "p",
            p,
            min_value=3,
            max_value=d_vocab - 1,
            rule=f"an integer in 3..{d_vocab - 1} "
            f"(the numbers are tokens 0..p-1 and '=' is the last token id {d_vocab - 1})",
        )
        notes.append(f"p={p_value} given; '=' is the last token id {d_vocab - 1}")
    if k is None:
        k_value = n_ctx - 1
        notes.append(f"k={k_value} inferred: n_ctx - 1 (tokens a_1 .. a_k '=')")
    else:
        k_value = check_int(
            "k",
            k,
            min_value=2,
            max_value=n_ctx - 1,
            rule=f"an integer in 2..{n_ctx - 1} (the sequence a_1 .. a_k '=' fits n_ctx={n_ctx})",
        )
        notes.append(f"k={k_value} given (n_ctx={n_ctx})")
    try:
        task = Task(p_value, k_value)
    except FourierCircuitsError as err:
        raise FourierCircuitsError(
            f"{err} (from d_vocab={d_vocab}, n_ctx={n_ctx}; pass p= and k= if the tokens differ)"
        ) from None
    if d_out < task.p:
        raise FourierCircuitsError(
            f"unembed.W_U has {d_out} output columns; the p={task.p} classes need at least p"
        )
    if d_out > task.p:
        notes.append(f"output columns {task.p}..{d_out - 1} of W_U ignored (the p classes only)")
    return task.p, task.k
