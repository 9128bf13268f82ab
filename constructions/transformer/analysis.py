"""The attention of a trained Transformer in Fourier space (Sec. 5 and Fig. 3 of arXiv 2402.09469).

For each head h, the p x p query-key matrix between the number tokens (theory.query_key_matrix)

    M_h[a, b] = (E[a] WQ_h) . (E[b] WK_h),   E = the embeddings of the tokens 0..p-1 (not '='),

its 2-D DFT, the share of its non-DC power in its TOP_FREQUENCIES strongest conjugate classes and
which classes those are (theory.attention_spectrum), in float64 whatever the training precision.
The heads are pooled by power (theory.pooled_concentration): `concentration` is DESIGN.md's
`attention_fourier_concentration`. The classes are compared with the frequencies the embeddings
use (theory.embedding_power, theory.key_frequencies): `explained_share` is the share of the heads'
top-class power whose frequencies |j1|, |j2| are all key frequencies of the embeddings.
Positions are left out of M_h (as in the paper's figure): it is the token-token part of the score.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fourier_circuits.theory import (
    TOP_FREQUENCIES,
    AttentionSpectrum,
    FloatArray,
    attention_spectrum,
    embedding_power,
    explained_share,
    frequency_classes,
    key_frequencies,
    pooled_concentration,
    query_key_matrix,
)


@dataclass(frozen=True)
class AttentionAnalysis:
    """The Fourier statistics of every head's query-key matrix (module docstring).

    matrices: (H, p, p) M_h, float64.  heads: one theory.AttentionSpectrum per head.
    concentration: the power-weighted pooled C_{n_top} over the heads.
    top_frequencies / top_shares: the n_top strongest classes of the heads' summed class powers
        and their shares of the summed non-DC power.
    embedding_power: ((p+1)/2,) one-sided power of the number-token embeddings (index 0: DC).
    embedding_frequencies: their key frequencies, strongest first.
    explained_share: power-weighted over heads, the share of each head's top-class power whose
        frequencies are key frequencies of the embeddings.
    """

    p: int
    n_top: int
    matrices: FloatArray
    heads: tuple[AttentionSpectrum, ...]
    concentration: float
    top_frequencies: tuple[tuple[int, int], ...]
    top_shares: tuple[float, ...]
    embedding_power: FloatArray
    embedding_frequencies: tuple[int, ...]
    explained_share: float

    @property
    def head_concentrations(self) -> tuple[float, ...]:
        return tuple(s.concentration for s in self.heads)

    @property
    def head_power(self) -> tuple[float, ...]:
        """Each head's non-DC power (the pooling weight)."""
        return tuple(s.non_dc_power for s in self.heads)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no matrices)."""
        return {
            "attention_fourier_concentration": self.concentration,
            "top_frequencies": [list(f) for f in self.top_frequencies],
            "top_frequency_shares": list(self.top_shares),
            "n_top": self.n_top,
            "head_concentrations": list(self.head_concentrations),
            "head_top_frequencies": [[list(f) for f in s.top_frequencies] for s in self.heads],
            "head_dc_shares": [s.dc_share for s in self.heads],
            "head_power_shares": _shares(self.head_power),
            "embedding_frequencies": list(self.embedding_frequencies),
            "embedding_power_shares": _shares(tuple(float(x) for x in self.embedding_power)),
            "explained_by_embedding_frequencies": self.explained_share,
        }


def _shares(values: tuple[float, ...]) -> list[float]:
    total = sum(values)
    return [v / total if total > 0 else 0.0 for v in values]


def analyse_attention(
    params: dict[str, np.ndarray[Any, Any]], *, n_top: int = TOP_FREQUENCIES
) -> AttentionAnalysis:
    """The AttentionAnalysis of a Transformer's parameters (float64 numpy, model.to_numpy)."""
    E, WQ, WK = (np.asarray(params[n], dtype=np.float64) for n in ("E", "WQ", "WK"))
    p = E.shape[0] - 1
    numbers = E[:p]  # the p number tokens; row p is '='
    matrices = np.stack([query_key_matrix(numbers, WQ[h], WK[h]) for h in range(WQ.shape[0])])
    heads = tuple(attention_spectrum(M, n_top=n_top) for M in matrices)
    # the heads' class powers summed, each class keyed by its representative
    reps = frequency_classes(p)
    index = {(int(a), int(b)): i for i, (a, b) in enumerate(reps)}
    summed = np.zeros(len(reps))
    for s in heads:
        for (a, b), share in zip(s.classes, s.class_shares, strict=True):
            summed[index[(int(a), int(b))]] += share * s.non_dc_power
    total = float(summed.sum())
    order = np.argsort(-summed, kind="stable")[:n_top]
    power = embedding_power(numbers)
    frequencies = key_frequencies(power)
    weights = np.array([s.non_dc_power for s in heads])
    explained = (
        float(
            sum(w * explained_share(s, frequencies) for w, s in zip(weights, heads, strict=True))
            / weights.sum()
        )
        if weights.sum() > 0
        else 0.0
    )
    return AttentionAnalysis(
        p=p,
        n_top=n_top,
        matrices=matrices,
        heads=heads,
        concentration=pooled_concentration(heads),
        top_frequencies=tuple((int(reps[i, 0]), int(reps[i, 1])) for i in order),
        top_shares=tuple(float(summed[i] / total) if total > 0 else 0.0 for i in order),
        embedding_power=power,
        embedding_frequencies=frequencies,
        explained_share=explained,
    )
