"""How a TransformerLens checkpoint's config is read (constructions.foreign.lens): its entries
checked against the weights' shapes, the forward-pass options this reader does not compute
refused, the activation, normalisation, epsilon, attention scale, p and k chosen, each with how
it was chosen (the LensModel's notes)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from fourier_circuits.constructions.foreign.files import StateDict
from fourier_circuits.theory import FourierCircuitsError, Task
from fourier_circuits.theory._validation import check_int

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

#: The one block read; keys of any other block are refused.
BLOCK = "blocks.0."
#: short name -> stored key, in the order of a state dict.
KEYS = {
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


def config_of(state: StateDict) -> tuple[Mapping[str, Any], str]:
    """The checkpoint's config (HookedTransformerConfig's fields) and its key, or ({}, "")."""
    for key in ("config", "cfg"):
        value = state.metadata.get(key)
        if isinstance(value, Mapping):
            return value, key
    return {}, ""


def check_config(config: Mapping[str, Any], shapes: Mapping[str, int], where: str) -> None:
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


def choose(
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


def normalization_of(
    given: str | None, config: Mapping[str, Any], tensors: Mapping[str, np.ndarray]
) -> tuple[str, str]:
    has_w = KEYS["ln1_w"] in tensors or KEYS["lnf_w"] in tensors
    has_b = KEYS["ln1_b"] in tensors or KEYS["lnf_b"] in tensors
    seen = "LN" if has_w and has_b else "RMS" if has_w else "none"
    value, source = choose("normalization", given, config, "normalization_type", NORMALIZATIONS)
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


def positive(value: Any, default: float, name: str) -> float:
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


def attn_scale(config: Mapping[str, Any], d_head: int) -> float:
    """TransformerLens: scores / attn_scale, attn_scale = sqrt(d_head) unless the config sets it
    (attn_scale > 0), or 1 when use_attn_scale is False."""
    if config.get("use_attn_scale", True) is False:
        return 1.0
    given = config.get("attn_scale", -1.0)
    if given is None or (isinstance(given, (int, float)) and given == -1):
        return math.sqrt(d_head)  # TransformerLens's default
    return positive(given, math.sqrt(d_head), "attn_scale")


def task_size(
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
