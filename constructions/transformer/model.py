"""A one-layer Transformer for k-input modular addition (Section 5 of arXiv 2402.09469), in PyTorch.

Input: the k + 1 tokens a_1 ... a_k '=' (numbers 0..p-1, '=' is token p). The paper does not say
how the k inputs are fed; the code base it extends (Sea-Snell/grokking) interleaves an operator
token, a_1 op a_2 op ... '='. With learned positions the operator tokens carry no information, so
they are left out: the sequence is as short as it can be.

Parameters (a dict of tensors; no LayerNorm, as in Nanda et al.'s grokking model):
    E: (p+1, d) token embeddings (row p: '=')      P: (k+1, d) position embeddings
    WQ, WK, WV: (H, d, d_head) per head            WO: (H, d_head, d) per head
    W1: (d, d_mlp), b1: (d_mlp,), W2: (d_mlp, d), b2: (d,)   a ReLU MLP (absent when d_mlp = 0)
    WU: (d, p) the read-out (unembedding) to the p classes

One layer, read out at the last position ('='):
    x_t = E[token_t] + P[t]
    h = x_k + sum_heads sum_t softmax_t( (x_k WQ) . (x_t WK) / sqrt(d_head) ) (x_t WV) WO
    h <- h + relu(h W1 + b1) W2 + b2;   logits = h WU
In a one-layer model the read-out depends only on the last position's output, and the last position
attends to every position with or without a causal mask, so only its query is computed. Its input
x_k = E['='] + P[k] is the same in every sequence, and x_t for t < k depends only on (t, a_t), so
the keys, scores and values are computed once per step as tables over the k p (position, number)
pairs and gathered per example (`logits`); `reference_logits` computes the
same function the usual way, on all k + 1 positions, and the tests compare the two.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch.nn import functional

from fourier_circuits.constructions.transformer.config import TransformerConfig

Params = dict[str, torch.Tensor]

#: The parameters that weight decay applies to (AdamW's decoupled decay): every matrix.
DECAYED = ("E", "P", "WQ", "WK", "WV", "WO", "W1", "W2", "WU")
#: The biases: not decayed.
BIASES = ("b1", "b2")


def tokens(inputs: np.ndarray[Any, Any], p: int) -> np.ndarray[Any, Any]:
    """The token sequences a_1 ... a_k '=' of inputs (N, k): (N, k+1) int64, '=' is token p."""
    a = np.asarray(inputs, dtype=np.int64)
    return np.concatenate([a, np.full((a.shape[0], 1), p, dtype=np.int64)], axis=1)


def init_params(config: TransformerConfig, *, generator: torch.Generator) -> Params:
    """Initial parameters, drawn in float64 on the CPU in a fixed order (so a seed gives the same
    network on every device): embeddings N(0, s^2 / d) (each row has norm ~ s), every other matrix
    N(0, s^2 / fan_in), biases 0; s = config.init_scale."""
    p, k, d, H, dh, dm = (
        config.p,
        config.k,
        config.d_model,
        config.n_heads,
        config.d_head,
        config.d_mlp,
    )
    s = config.init_scale

    def normal(*shape: int, fan_in: int) -> torch.Tensor:
        return torch.randn(shape, generator=generator, dtype=torch.float64) * (
            s / math.sqrt(fan_in)
        )

    params: Params = {
        "E": normal(p + 1, d, fan_in=d),
        "P": normal(k + 1, d, fan_in=d),
        "WQ": normal(H, d, dh, fan_in=d),
        "WK": normal(H, d, dh, fan_in=d),
        "WV": normal(H, d, dh, fan_in=d),
        "WO": normal(H, dh, d, fan_in=H * dh),
    }
    if dm:
        params["W1"] = normal(d, dm, fan_in=d)
        params["b1"] = torch.zeros(dm, dtype=torch.float64)
        params["W2"] = normal(dm, d, fan_in=dm)
        params["b2"] = torch.zeros(d, dtype=torch.float64)
    params["WU"] = normal(d, p, fan_in=d)
    return params


def _readout(params: Params, h: torch.Tensor) -> torch.Tensor:
    """h (N, d) after attention -> logits (N, p): the residual MLP, then the unembedding."""
    if "W1" in params:
        h = h + functional.relu(h @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"]
    return h @ params["WU"]


def logits(params: Params, inputs: torch.Tensor) -> torch.Tensor:
    """Logits (N, p) of the inputs (N, k) int64 (the sequences a_1 ... a_k '='), by tables over
    the (position, number) pairs (module docstring)."""
    E, P, WQ, WK, WV, WO = (params[n] for n in ("E", "P", "WQ", "WK", "WV", "WO"))
    p, k = E.shape[0] - 1, P.shape[0] - 1
    scale = 1.0 / math.sqrt(WQ.shape[-1])
    x_eq = E[p] + P[k]  # (d,) the last position, the same in every sequence
    x_num = E[:p].unsqueeze(0) + P[:k].unsqueeze(1)  # (k, p, d): number a at position t
    q = torch.einsum("d,hde->he", x_eq, WQ)  # (H, d_head) the one query per head
    # scores q . (x WK) = x . (WK q): contract the key side with the query first
    key_dir = torch.einsum("hde,he->dh", WK, q) * scale  # (d, H)
    score_num = x_num @ key_dir  # (k, p, H)
    score_eq = x_eq @ key_dir  # (H,)
    value_num = torch.einsum("tad,hde->tahe", x_num, WV)  # (k, p, H, d_head)
    value_eq = torch.einsum("d,hde->he", x_eq, WV)  # (H, d_head)
    n = inputs.shape[0]
    position = torch.arange(k, device=inputs.device)
    scores = torch.cat(
        [score_num[position, inputs], score_eq.expand(n, 1, -1)], dim=1
    )  # (N, k+1, H)
    attention = torch.softmax(scores, dim=1)  # over the k + 1 positions
    # each head's attention-weighted value (N, H, d_head), then all heads' outputs in one product
    z = torch.einsum("nth,nthe->nhe", attention[:, :k], value_num[position, inputs])
    z = z + attention[:, k].unsqueeze(-1) * value_eq
    h = x_eq + z.reshape(n, -1) @ WO.reshape(-1, WO.shape[-1])
    return _readout(params, h)


def reference_logits(params: Params, sequences: torch.Tensor) -> torch.Tensor:
    """The same function computed the usual way: causal attention over all k + 1 positions of the
    token sequences (N, k+1), read out at the last one. For tests and for reading."""
    E, P, WQ, WK, WV, WO = (params[n] for n in ("E", "P", "WQ", "WK", "WV", "WO"))
    x = E[sequences] + P  # (N, T, d)
    T = x.shape[1]
    q = torch.einsum("ntd,hde->nhte", x, WQ)
    key = torch.einsum("ntd,hde->nhte", x, WK)
    value = torch.einsum("ntd,hde->nhte", x, WV)
    scores = torch.einsum("nhse,nhte->nhst", q, key) / math.sqrt(WQ.shape[-1])  # (N, H, T, T)
    causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
    attention = torch.softmax(scores.masked_fill(~causal, -math.inf), dim=-1)
    z = torch.einsum("nhst,nhte->nhse", attention, value)  # (N, H, T, d_head)
    h = x + torch.einsum("nhse,hef->nsf", z, WO)  # (N, T, d)
    return _readout(params, h[:, -1])


def attention_weights(params: Params, inputs: torch.Tensor) -> torch.Tensor:
    """The attention of the last position, (N, H, k+1): head h's weights on a_1 ... a_k, '='."""
    E, P, WQ, WK = (params[n] for n in ("E", "P", "WQ", "WK"))
    p, k = E.shape[0] - 1, P.shape[0] - 1
    x = E[torch.cat([inputs, torch.full_like(inputs[:, :1], p)], dim=1)] + P  # (N, k+1, d)
    q = torch.einsum("d,hde->he", E[p] + P[k], WQ)
    scores = torch.einsum("ntd,hde,he->nht", x, WK, q) / math.sqrt(WQ.shape[-1])
    return torch.softmax(scores, dim=-1)


def to_numpy(params: Params) -> dict[str, np.ndarray[Any, Any]]:
    """The parameters as float64 numpy arrays (for the analysis and for saving)."""
    return {name: x.detach().to("cpu", torch.float64).numpy().copy() for name, x in params.items()}
