"""What the papers measure on a one-layer Transformer, for a LensModel (docs/transformer.md,
"Transformers from TransformerLens", has every definition).

    from fourier_circuits.constructions.foreign import analyse_lens
    analysis = analyse_lens(model, seed=0)
    analysis.accuracy, analysis.key_frequencies, analysis.claims

- accuracy: over all of D_p (the label's logit strictly above the p - 1 others; ties are wrong).
- key_frequencies: the embeddings' frequencies that stand out (Nanda et al., arXiv 2301.05217):
  theory.embedding_power of W_E's number rows, then theory.spectra.standout_frequencies (those
  above the largest drop, of at least STANDOUT_FACTOR, in the sorted powers).
- The paper's Fig. 3 view (arXiv 2402.09469), per head h, divided by attn_scale: number-number
  M_h[a, b] = (W_E[a] W_Q^h) . (W_E[b] W_K^h), the token part of the score as the paper shows it
  and as the toolkit's own Transformer is analysed (theory.query_key_matrix; positions, biases
  and ln1 would add rows and columns constant in a or b); its 2-D spectrum (theory.
  attention_spectrum), pooled over heads by power: attention_fourier_concentration. And the
  score that reaches the logits, the '=' query against the number keys as the model computes it
  (positions, ln1, b_Q, b_K included): S_h[t, b] = q('=') . key(b at position t), a (1, p) row per
  number position t (theory.spectra.vector_spectrum, pooled: eq_attention_concentration).
- The noise control: the same two statistics for NOISE_SAMPLES models whose W_E, W_pos, W_Q, W_K,
  b_Q, b_K are i.i.d. Gaussian with each tensor's root-mean-square (ln weights kept), seeded
  (numpy default_rng(seed));
  noise_concentration_q99 / eq_noise_concentration_q99 are their 99th percentiles.
- neuron_single_frequency_fraction: the share of MLP neurons with variance whose activation at
  '=' over D_p has more than NEURON_SHARE (85%) of its variance in the components of one
  frequency (theory.spectra.single_frequency_shares; Nanda et al.'s criterion, any k).
- logit_variance_explained_by_key_frequencies: the logits L(a, c) over D_p x Z_p, centred per
  input over c (softmax ignores a constant per input), projected on the directions
  cos(2 pi w (a_1 + .. + a_k - c) / p), sin(...) for the key frequencies w: the share of the
  centred logits' squared norm in that span (the directions are orthogonal; formula in _pass).

claims (checked: the accuracy and the attention's Fourier structure; the others are reported):
"accuracy" >= TEST_ACCURACY_CLAIM over D_p; "attention_fourier" and "attention_fourier_eq": the
pooled concentration strictly above the noise control's 99th percentile.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

import fourier_circuits.theory.budget as budget
from fourier_circuits.constructions.foreign.lens import LensModel
from fourier_circuits.constructions.foreign.lens_forward import chunk_rows, forward, tables
from fourier_circuits.theory import (
    TOP_FREQUENCIES,
    FourierCircuitsError,
    Task,
    attention_spectrum,
    embedding_power,
    iter_chunks,
    pooled_concentration,
    query_key_matrix,
)
from fourier_circuits.theory._validation import FloatArray, check_seed
from fourier_circuits.theory.serialise import jsonable
from fourier_circuits.theory.spectra import (
    NEURON_SHARE,
    STANDOUT_FACTOR,
    VECTOR_TOP_FREQUENCIES,
    pooled_vector_concentration,
    single_frequency_shares,
    standout_frequencies,
    vector_spectrum,
)
from fourier_circuits.theory.task import require_enumerable
from fourier_circuits.theory.tolerances import TEST_ACCURACY_CLAIM

#: Random models drawn for the attention's noise control.
NOISE_SAMPLES = 200
#: The percentile of the noise control that the attention's concentration must exceed.
NOISE_PERCENTILE = 99.0
#: The tensors replaced by Gaussian noise in the control.
NOISE_TENSORS = ("W_E", "W_pos", "W_Q", "W_K", "b_Q", "b_K")
#: The claims analyse_lens checks, in order.
CLAIMS = ("accuracy", "attention_fourier", "attention_fourier_eq")


@dataclass(frozen=True)
class LensAnalysis:
    """The measurements of a LensModel (module docstring); as_dict() is the JSON object."""

    model: LensModel
    accuracy: float
    n_correct: int
    n_examples: int
    embedding_power: FloatArray  # ((p+1)/2,) one-sided, of W_E's number rows
    key_frequencies: tuple[int, ...]
    qk_matrices: FloatArray  # (H, p, p) number-number scores
    eq_scores: FloatArray  # (H, k, p) the '=' query against number b at position t
    attention_fourier_concentration: float
    head_concentrations: tuple[float, ...]
    head_top_frequencies: tuple[tuple[tuple[int, int], ...], ...]
    eq_attention_concentration: float
    eq_top_frequencies: tuple[tuple[tuple[int, ...], ...], ...]  # [head][position]
    noise_concentrations: FloatArray  # (samples,)
    eq_noise_concentrations: FloatArray
    neuron_shares: FloatArray  # (d_mlp, h) S_zeta of every neuron
    logit_variance_by_frequency: FloatArray  # (h,) share of the centred logits' norm per w
    n_top: int
    eq_n_top: int
    seed: int

    @property
    def p(self) -> int:
        return self.model.p

    @property
    def k(self) -> int:
        return self.model.k

    @property
    def noise_concentration_q99(self) -> float:
        return float(np.percentile(self.noise_concentrations, NOISE_PERCENTILE))

    @property
    def eq_noise_concentration_q99(self) -> float:
        return float(np.percentile(self.eq_noise_concentrations, NOISE_PERCENTILE))

    @property
    def active_neurons(self) -> int:
        """Neurons whose activation varies over D_p (the others have no variance to explain)."""
        return int(np.count_nonzero(self.neuron_shares.sum(axis=1) > 0))

    @property
    def neuron_frequencies(self) -> tuple[int, ...]:
        """Each neuron's strongest frequency (0: no variance)."""
        shares = self.neuron_shares
        best = shares.argmax(axis=1) + 1 if shares.size else np.zeros(0, dtype=np.int64)
        return tuple(int(z) if shares[i].sum() > 0 else 0 for i, z in enumerate(best))

    @property
    def single_frequency(self) -> tuple[bool, ...]:
        """Whether each neuron has more than NEURON_SHARE of its variance in one frequency."""
        if self.neuron_shares.shape[1] == 0:
            return ()
        return tuple(bool(s > NEURON_SHARE) for s in self.neuron_shares.max(axis=1))

    @property
    def neuron_single_frequency_fraction(self) -> float:
        active = self.active_neurons
        return sum(self.single_frequency) / active if active else 0.0

    @property
    def logit_variance_explained_by_key_frequencies(self) -> float:
        return float(sum(self.logit_variance_by_frequency[w - 1] for w in self.key_frequencies))

    @property
    def claims(self) -> dict[str, dict[str, Any]]:
        """name -> {"holds", "statement", "value", "threshold"} (module docstring)."""
        return {
            "accuracy": _claim(
                f"accuracy over all of D_p >= {TEST_ACCURACY_CLAIM}",
                self.accuracy,
                TEST_ACCURACY_CLAIM,
                self.accuracy >= TEST_ACCURACY_CLAIM,
            ),
            "attention_fourier": _claim(
                "number-number attention's 2-D Fourier concentration (Fig. 3 of arXiv "
                "2402.09469) above the 99th percentile of random Gaussian weights",
                self.attention_fourier_concentration,
                self.noise_concentration_q99,
                self.attention_fourier_concentration > self.noise_concentration_q99,
            ),
            "attention_fourier_eq": _claim(
                "the '=' query's attention over number keys: 1-D Fourier concentration above "
                "the 99th percentile of random Gaussian weights",
                self.eq_attention_concentration,
                self.eq_noise_concentration_q99,
                self.eq_attention_concentration > self.eq_noise_concentration_q99,
            ),
        }

    def failures(self, claims: tuple[str, ...] | list[str] = CLAIMS) -> list[str]:
        """Each checked claim that fails, named with its value and threshold."""
        unknown = [c for c in claims if c not in CLAIMS]
        if unknown:
            raise FourierCircuitsError(f"claims {unknown} unknown; choose from {CLAIMS}")
        out = []
        for name in claims:
            claim = self.claims[name]
            if not claim["holds"]:
                value, threshold = claim["value"], claim["threshold"]
                out.append(f"{name}: {claim['statement']}: {value:.6g} vs {threshold:.6g}")
        return out

    def as_dict(self) -> dict[str, Any]:
        """The JSON object (no matrices)."""
        frequencies = self.neuron_frequencies
        single = self.single_frequency
        counts: dict[str, int] = {}
        for z, s in zip(frequencies, single, strict=True):
            if s:
                counts[str(z)] = counts.get(str(z), 0) + 1
        on_key = sum(
            int(z) in self.key_frequencies for z, s in zip(frequencies, single, strict=True) if s
        )
        n_single = sum(single)
        power = self.embedding_power[1:]
        data: dict[str, Any] = {
            "p": self.p,
            "k": self.k,
            "accuracy": self.accuracy,
            "n_correct": self.n_correct,
            "n_examples": self.n_examples,
            "key_frequencies": list(self.key_frequencies),
            "key_frequency_rule": (
                f"above the largest drop (>= {STANDOUT_FACTOR:g}x) in the sorted embedding powers"
            ),
            "embedding_power_shares": list(power / power.sum()) if power.sum() > 0 else [],
            "attention_fourier_concentration": self.attention_fourier_concentration,
            "noise_concentration_q99": self.noise_concentration_q99,
            "noise_concentration_mean": float(self.noise_concentrations.mean()),
            "noise_samples": int(self.noise_concentrations.size),
            "n_top": self.n_top,
            "head_concentrations": list(self.head_concentrations),
            "head_top_frequencies": [[list(f) for f in h] for h in self.head_top_frequencies],
            "eq_attention_concentration": self.eq_attention_concentration,
            "eq_noise_concentration_q99": self.eq_noise_concentration_q99,
            "eq_n_top": self.eq_n_top,
            "eq_top_frequencies": [[list(f) for f in h] for h in self.eq_top_frequencies],
            "neuron_single_frequency_fraction": self.neuron_single_frequency_fraction,
            "neurons": self.model.d_mlp,
            "neurons_active": self.active_neurons,
            "neurons_single_frequency": n_single,
            "neuron_frequency_counts": counts,
            "single_frequency_neurons_on_key_frequencies": on_key / n_single if n_single else 0.0,
            "logit_variance_explained_by_key_frequencies": (
                self.logit_variance_explained_by_key_frequencies
            ),
            "logit_variance_by_frequency": list(self.logit_variance_by_frequency),
            "claims": self.claims,
            "noise_seed": self.seed,
            "config": self.model.config(),
            "notes": list(self.model.notes),
        }
        return dict(jsonable(data))


def _claim(statement: str, value: float, threshold: float, holds: bool) -> dict[str, Any]:
    return {"holds": bool(holds), "statement": statement, "value": value, "threshold": threshold}


def attention_views(model: LensModel) -> tuple[FloatArray, FloatArray]:
    """(qk (H, p, p), eq (H, k, p)): the number-number and '='-query scores (module docstring)."""
    w = model.weights
    numbers = w["W_E"][: model.p]
    qk = np.stack(
        [query_key_matrix(numbers, w["W_Q"][h], w["W_K"][h]) for h in range(model.n_heads)]
    )
    return qk / model.attn_scale, np.transpose(tables(model).scores, (2, 0, 1))


def _concentrations(
    model: LensModel, n_top: int, eq_n_top: int
) -> tuple[float, float, list[Any], list[Any]]:
    qk, eq = attention_views(model)
    heads = [attention_spectrum(M, n_top=n_top) for M in qk]
    rows = [[vector_spectrum(v, n_top=eq_n_top) for v in head] for head in eq]
    eq_all = [s for head in rows for s in head]
    return pooled_concentration(heads), pooled_vector_concentration(eq_all), heads, rows


def _noise(model: LensModel, samples: int, seed: int, n_top: int, eq_n_top: int) -> FloatArray:
    """(samples, 2) the two concentrations of Gaussian models (module docstring)."""
    rng = np.random.default_rng(seed)
    out = np.empty((samples, 2))
    for i in range(samples):
        weights = dict(model.weights)
        for name in NOISE_TENSORS:
            x = model.weights[name]
            rms = float(np.sqrt(np.mean(x * x))) if x.size else 0.0
            weights[name] = rng.standard_normal(x.shape) * rms
        noisy = dataclasses.replace(model, weights=weights)
        out[i] = _concentrations(noisy, n_top, eq_n_top)[:2]
    return out


def _pass(model: LensModel) -> tuple[int, FloatArray, FloatArray]:
    """One pass over D_p: (correct count, MLP activations (d_mlp, p^k), logit variance share per
    frequency (h,)). With s = a_1 + .. + a_k and F(a, w) = sum_c L(a, c) e^(-2 pi i w c / p),
    G_w = sum_a e^(2 pi i w s / p) F(a, w) gives sum_{a,c} L cos(2 pi w (s - c)/p) = Re G_w and
    the sin projection Im G_w; both directions have squared norm p^(k+1) / 2, so the share of w
    is 2 |G_w|^2 / p^(k+1) / sum_{a,c} (L - mean_c L)^2."""
    task = Task(model.p, model.k)
    p, n = task.p, task.n_examples
    h = (p - 1) // 2
    hidden = np.empty((model.d_mlp, n))
    G = np.zeros(h, dtype=np.complex128)
    total = 0.0
    correct = 0
    t = tables(model)
    w = np.arange(1, h + 1)
    for start, inputs in iter_chunks(task, chunk_rows=chunk_rows(model)):
        logits, post = forward(model, inputs, table=t)
        stop = start + inputs.shape[0]
        hidden[:, start:stop] = post.T
        label = inputs.sum(axis=1) % p
        mine = logits[np.arange(len(label)), label]
        others = logits.copy()
        others[np.arange(len(label)), label] = -np.inf
        correct += int(np.count_nonzero(mine > others.max(axis=1)))
        centred = logits - logits.mean(axis=1, keepdims=True)
        total += float((centred * centred).sum())
        F = np.fft.fft(logits, axis=1)[:, 1 : h + 1]  # (B, h)
        G += (np.exp(2j * np.pi * np.outer(label, w) / p) * F).sum(axis=0)
    shares = 2 * np.abs(G) ** 2 / float(p) ** (model.k + 1) / total if total > 0 else np.zeros(h)
    return correct, hidden, shares


def analyse_lens(
    model: LensModel,
    *,
    seed: int = 0,
    n_top: int = TOP_FREQUENCIES,
    eq_n_top: int = VECTOR_TOP_FREQUENCIES,
    noise_samples: int = NOISE_SAMPLES,
) -> LensAnalysis:
    """The LensAnalysis of the model (module docstring); the noise control draws from
    numpy.random.default_rng(seed). Refused up front when D_p or the work does not fit."""
    if not isinstance(model, LensModel):
        raise FourierCircuitsError(f"model={type(model).__name__} must be a LensModel")
    seed = check_seed(seed)
    task = Task(model.p, model.k)
    p, k, H, d, dh, dm = model.p, model.k, model.n_heads, model.d_model, model.d_head, model.d_mlp
    per_example = 2 * (H * dh * d + 2 * d * dm + d * p + 2 * (k + 1) * H * dh) + 10 * p
    require_enumerable(task, work_per_example=per_example)
    n = task.n_examples
    h = (p - 1) // 2
    eq_n_top = min(eq_n_top, h)  # p = 3 has one frequency
    noise_flop = noise_samples * (2 * k * p * d * H * dh + H * 30 * p * p * np.log2(p))
    budget.require(
        f"analysing the TransformerLens model p={p}, k={k} over its {n} inputs",
        nbytes=8 * dm * n * 7 + 8 * chunk_rows(model) * per_example,  # activations, spectra
        flop=n * per_example + 5.0 * dm * n * np.log2(n) + noise_flop,
        fix="a smaller p or k",
    )
    budget.require_steps("the noise control's frequency classes", noise_samples * H * p * p)
    correct, hidden, logit_shares = _pass(model)
    power = embedding_power(model.weights["W_E"][:p])
    concentration, eq_concentration, heads, rows = _concentrations(model, n_top, eq_n_top)
    noise = _noise(model, noise_samples, seed, n_top, eq_n_top)
    qk, eq = attention_views(model)
    neuron_shares = single_frequency_shares(hidden, p=p, k=k) if dm else np.zeros((0, h))
    return LensAnalysis(
        model=model,
        accuracy=correct / n,
        n_correct=correct,
        n_examples=n,
        embedding_power=power,
        key_frequencies=standout_frequencies(power),
        qk_matrices=qk,
        eq_scores=eq,
        attention_fourier_concentration=concentration,
        head_concentrations=tuple(s.concentration for s in heads),
        head_top_frequencies=tuple(s.top_frequencies for s in heads),
        eq_attention_concentration=eq_concentration,
        eq_top_frequencies=tuple(tuple(s.top_frequencies for s in head) for head in rows),
        noise_concentrations=noise[:, 0],
        eq_noise_concentrations=noise[:, 1],
        neuron_shares=neuron_shares,
        logit_variance_by_frequency=logit_shares,
        n_top=n_top,
        eq_n_top=eq_n_top,
        seed=seed,
    )
