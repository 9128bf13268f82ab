"""Margins of Section 3 of arXiv 2402.09469 (Defs 3.2-3.6), Condition 3.8, the certificate pair.

    example margin     g(theta, a)  = f[y] - max_{c != y} f[c]                      (Def 3.2)
    dataset margin     h(theta)     = min_{a in D_p} g(theta, a)                      (Def 3.3)
    normalized margin  h(theta) / ||theta||_{2,k+1}^(k+1) = h(theta / ||theta||)      (Def 3.4)
    class-weighted     g'(theta, a) = f[y] - (1/(p-1)) sum_{c != y} f[c]  >=  g        (Def 3.6)

Condition 3.8: g' = g on the support of q, i.e. every weighted wrong-label logit is maximal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from fourier_circuits.theory.closed_forms import gamma_star
from fourier_circuits.theory.errors import FourierCircuitsError
from fourier_circuits.theory.network import FloatArray, LogitChunk, PolyNet
from fourier_circuits.theory.task import IntArray, labels
from fourier_circuits.theory.tolerances import MARGIN_RTOL, TIE_RTOL

#: Largest |logit| bound accepted: m (k max|U|)^k max|W| must stay this far below float64's
#: overflow (1.8e308) so that sums over D_p and the DFT's squared magnitudes stay finite.
MAX_LOGIT_BOUND = 1e150


def require_representable(net: PolyNet) -> None:
    """Refuse weights so large that the logits would overflow float64 (every claim is
    scale-invariant by (k+1)-homogeneity, so the fix is to divide the weights by a constant).
    Also refuses a `net` that is not a theory.PolyNet."""
    if not isinstance(net, PolyNet):
        raise FourierCircuitsError(f"net={type(net).__name__} must be a theory.PolyNet")
    u_max, w_max = float(np.abs(net.U).max()), float(np.abs(net.W).max())
    largest = max(u_max, w_max)
    if u_max == 0.0 or w_max == 0.0:
        return  # a zero part: the logits are 0 (a zero network is refused by margin_report)
    # in logarithms: the bound itself may not be representable
    log_bound = math.log(net.m) + net.k * math.log(net.k * u_max) + math.log(w_max)
    if log_bound > math.log(MAX_LOGIT_BOUND) or largest > math.sqrt(MAX_LOGIT_BOUND):
        raise FourierCircuitsError(
            f"weights up to {largest:.3g} could overflow float64 in the logits (bound "
            f"m (k max|U|)^k max|W| = 10^{log_bound / math.log(10):.0f} > {MAX_LOGIT_BOUND:.0e}); "
            "divide them by a constant: the normalized margin and every claim are scale-invariant"
        )


def margins_from_logits(logits: FloatArray, y: IntArray) -> tuple[FloatArray, FloatArray]:
    """(g, g') for logits (N, p) and labels (N,): the example and class-weighted margins."""
    n, p = logits.shape
    rows = np.arange(n)
    correct = logits[rows, y]
    # class-weighted: sum over c != y is the row sum minus the correct logit
    g_weighted = correct - (logits.sum(axis=1) - correct) / (p - 1)
    wrong = logits.copy()
    wrong[rows, y] = -np.inf
    return correct - wrong.max(axis=1), g_weighted


def example_margins(net: PolyNet, inputs: Any) -> FloatArray:
    """g(theta, a) for a batch of inputs (N, k) -> (N,)."""
    require_representable(net)
    a = net.check_inputs(inputs)
    return margins_from_logits(net.logits(a), labels(a, net.p))[0]


def class_weighted_margins(net: PolyNet, inputs: Any) -> FloatArray:
    """g'(theta, a) with uniform tau for a batch of inputs (N, k) -> (N,)."""
    require_representable(net)
    a = net.check_inputs(inputs)
    return margins_from_logits(net.logits(a), labels(a, net.p))[1]


@dataclass(frozen=True)
class _ChunkStats:
    start: int
    min_margin: float
    argmin: int
    max_margin: float
    n_correct: int
    sum_weighted: float
    max_wrong_spread: float  # max over examples of (max - min) wrong-label logit
    max_abs_logit: float


def _chunk_stats(chunk: LogitChunk) -> _ChunkStats:
    logits, y = chunk.logits, chunk.labels
    rows = np.arange(len(y))
    correct = logits[rows, y].copy()
    total = logits.sum(axis=1)
    max_abs = float(np.abs(logits).max())
    logits[rows, y] = -np.inf  # the chunk is ours to overwrite: it is never reused
    wrong_max = logits.max(axis=1)
    logits[rows, y] = np.inf
    wrong_min = logits.min(axis=1)
    g = correct - wrong_max
    p = logits.shape[1]
    g_weighted = correct - (total - correct) / (p - 1)
    i = int(np.argmin(g))
    return _ChunkStats(
        start=chunk.start,
        min_margin=float(g[i]),
        argmin=chunk.start + i,
        max_margin=float(g.max()),
        n_correct=int(np.count_nonzero(g > 0)),
        sum_weighted=float(g_weighted.sum()),
        max_wrong_spread=float((wrong_max - wrong_min).max()),
        max_abs_logit=max_abs,
    )


@dataclass(frozen=True)
class MarginReport:
    """Margins of a network over all of D_p, from one pass.

    margin: h(theta); normalized_margin: h / ||theta||^(k+1); mean_class_weighted: E_unif[g'];
    margin_spread: max g - min g (0 when every example sits on the margin);
    wrong_spread: max over examples of the spread of wrong-label logits (0 under Condition 3.8
    for uniform q); scale: the largest |logit|, the unit for the relative tolerances.
    """

    p: int
    k: int
    m: int
    n_examples: int
    norm: float
    margin: float
    normalized_margin: float
    argmin: int
    n_correct: int
    mean_class_weighted: float
    margin_spread: float
    wrong_spread: float
    scale: float

    @property
    def all_correct(self) -> bool:
        return self.n_correct == self.n_examples

    @property
    def gamma_star(self) -> float:
        return gamma_star(self.p, self.k)

    @property
    def margin_ratio(self) -> float:
        return self.normalized_margin / self.gamma_star

    @property
    def relative_error(self) -> float:
        return abs(self.normalized_margin - self.gamma_star) / self.gamma_star

    @property
    def all_on_margin(self) -> bool:
        return self.margin_spread <= TIE_RTOL * self.scale

    @property
    def wrong_labels_tied(self) -> bool:
        return self.wrong_spread <= TIE_RTOL * self.scale


def _norm_power(net: PolyNet) -> float:
    """||theta||_{2,k+1}^(k+1), the denominator of the normalized margin; refuses a zero network
    (its normalized margin 0/0 is undefined)."""
    scale = net.norm() ** (net.k + 1)
    if not scale > 0.0:
        raise FourierCircuitsError(
            "the network is zero (||theta||_{2,k+1}^(k+1) = 0, or it underflows); "
            "its normalized margin is undefined"
        )
    return scale


def margin_report(
    net: PolyNet, *, chunk_rows: int | None = None, workers: int | None = None
) -> MarginReport:
    """One streaming (threaded) pass over D_p computing every margin statistic of the network;
    refuses weights whose logits could overflow float64 (require_representable) and a pass that
    would not fit or finish (theory.evaluation.require_pass)."""
    require_representable(net)
    return _report(net, net.map_chunks(_chunk_stats, chunk_rows=chunk_rows, workers=workers))


def _report(net: PolyNet, stats: list[_ChunkStats]) -> MarginReport:
    """The MarginReport of a network from the statistics of its chunks of D_p."""
    best = min(stats, key=lambda s: (s.min_margin, s.argmin))
    norm = net.norm()
    norm_power = _norm_power(net)
    n = net.task.n_examples
    return MarginReport(
        p=net.p,
        k=net.k,
        m=net.m,
        n_examples=n,
        norm=norm,
        margin=best.min_margin,
        normalized_margin=best.min_margin / norm_power,
        argmin=best.argmin,
        n_correct=sum(s.n_correct for s in stats),
        mean_class_weighted=sum(s.sum_weighted for s in stats) / n / norm_power,
        margin_spread=max(s.max_margin for s in stats) - best.min_margin,
        wrong_spread=max(s.max_wrong_spread for s in stats),
        scale=max(s.max_abs_logit for s in stats),
    )


def _min_margin(chunk: LogitChunk) -> float:
    logits, y = chunk.logits, chunk.labels
    rows = np.arange(len(y))
    correct = logits[rows, y].copy()
    logits[rows, y] = -np.inf
    return float((correct - logits.max(axis=1)).min())


def dataset_margin(
    net: PolyNet, *, chunk_rows: int | None = None, workers: int | None = None
) -> float:
    """h(theta) = min over D_p of g(theta, a) (Def 3.3), streamed over D_p."""
    require_representable(net)
    return min(net.map_chunks(_min_margin, chunk_rows=chunk_rows, workers=workers))


def normalized_margin(
    net: PolyNet, *, chunk_rows: int | None = None, workers: int | None = None
) -> float:
    """h(theta) / ||theta||_{2,k+1}^(k+1) (Def 3.4); equals h(theta/||theta||) by homogeneity."""
    require_representable(net)
    norm_power = _norm_power(net)
    h = dataset_margin(net, chunk_rows=chunk_rows, workers=workers)
    return h / norm_power


def condition_3_8(net: PolyNet, inputs: Any, *, rtol: float = TIE_RTOL) -> float:
    """Condition 3.8 on the support `inputs` of q: the largest g' - g, relative to the largest
    |logit| (g' >= g always; the condition holds when this is <= rtol)."""
    require_representable(net)
    a = net.check_inputs(inputs)
    if a.shape[0] == 0:
        raise FourierCircuitsError("condition_3_8 needs at least one input (the support of q)")
    logits = net.logits(a)
    g, g_weighted = margins_from_logits(logits, labels(a, net.p))
    scale = float(np.abs(logits).max()) or 1.0
    return float((g_weighted - g).max()) / scale


@dataclass(frozen=True)
class CertificateCheck:
    """The certificate pair of Def 3.5 for uniform q on D_p and uniform tau (the paper's q*).

    q* minimises E_q[g(theta)] iff every example with q > 0 sits on the margin (on_margin);
    Condition 3.8 makes g' = g there (wrong_labels_tied); theta maximises the mean of g' under q*
    over the unit ball iff the mean of g'(theta / ||theta||) under q* reaches the single-neuron
    maximum gamma* (Lemmas F.5-F.8 prove no unit neuron, hence no unit-norm network, exceeds it).
    Together (Morwani Lemma 5-6 = Lemmas E.1-E.2) theta is a max-margin network.
    """

    on_margin: bool
    wrong_labels_tied: bool
    class_weighted_reaches_max: bool
    mean_class_weighted: float
    single_neuron_max: float

    @property
    def holds(self) -> bool:
        return self.on_margin and self.wrong_labels_tied and self.class_weighted_reaches_max


def check_certificate(net: PolyNet, *, report: MarginReport | None = None) -> CertificateCheck:
    """Check Def 3.5's certificate pair (theta, q* = uniform) for the network (Def 3.5 with the
    erratum: theta* is an argmax, not an argmin)."""
    r = report or margin_report(net)
    bound = gamma_star(net.p, net.k)
    return CertificateCheck(
        on_margin=r.all_on_margin,
        wrong_labels_tied=r.wrong_labels_tied,
        class_weighted_reaches_max=r.mean_class_weighted >= bound * (1 - MARGIN_RTOL),
        mean_class_weighted=r.mean_class_weighted,
        single_neuron_max=bound,
    )


@dataclass(frozen=True)
class PartMargins:
    """Margins over one part of D_p (e.g. the training or the held-out split), measured in the
    same pass as the MarginReport over all of D_p (margin_report_by_part).

    margin: min g over the part (+inf when the part is empty); n_correct: examples with g > 0;
    condition_3_8: max over the part of (g' - g) divided by its largest |logit| (condition_3_8).
    """

    n_examples: int
    margin: float
    n_correct: int
    condition_3_8: float

    @property
    def accuracy(self) -> float:
        return self.n_correct / self.n_examples if self.n_examples else float("nan")


def part_index(p: int, k: int, parts: tuple[IntArray, ...]) -> np.ndarray[Any, Any] | None:
    """For each example of D_p (lexicographic order) the number of the part that holds it, -1 for
    none (int8, p^k bytes); None when an input occurs twice (in one part or in two), since then
    the per-part counts of a pass over D_p would differ from counts over the parts' rows."""
    if len(parts) > 127:
        raise FourierCircuitsError(f"{len(parts)} parts: at most 127")
    where = np.full(p**k, -1, dtype=np.int8)
    powers = p ** np.arange(k - 1, -1, -1, dtype=np.int64)
    for number, inputs in enumerate(parts):
        flat = np.asarray(inputs, dtype=np.int64).reshape(-1, k) @ powers
        if np.unique(flat).size != flat.size or (where[flat] != -1).any():
            return None
        where[flat] = number
    return where


@dataclass(frozen=True)
class _PartChunk:
    stats: _ChunkStats
    n: tuple[int, ...]
    margin: tuple[float, ...]
    n_correct: tuple[int, ...]
    gap: tuple[float, ...]
    scale: tuple[float, ...]


def _part_chunk_stats(chunk: LogitChunk, where: np.ndarray[Any, Any], n_parts: int) -> _PartChunk:
    part = where[chunk.start : chunk.start + len(chunk.labels)]
    g, g_weighted = margins_from_logits(chunk.logits, chunk.labels)
    abs_max = np.abs(chunk.logits).max(axis=1)
    stats = _chunk_stats(chunk)  # overwrites the logits: last
    n, margin, n_correct, gap, scale = [], [], [], [], []
    for number in range(n_parts):
        mask = part == number
        n.append(int(np.count_nonzero(mask)))
        if n[-1] == 0:
            margin.append(math.inf)
            n_correct.append(0)
            gap.append(-math.inf)
            scale.append(0.0)
            continue
        margin.append(float(g[mask].min()))
        n_correct.append(int(np.count_nonzero(g[mask] > 0)))
        gap.append(float((g_weighted[mask] - g[mask]).max()))
        scale.append(float(abs_max[mask].max()))
    return _PartChunk(stats, tuple(n), tuple(margin), tuple(n_correct), tuple(gap), tuple(scale))


def margin_report_by_part(
    net: PolyNet,
    where: np.ndarray[Any, Any],
    *,
    n_parts: int | None = None,
    chunk_rows: int | None = None,
    workers: int | None = None,
) -> tuple[MarginReport, tuple[PartMargins, ...]]:
    """margin_report over all of D_p and, from the same single pass, the margins of each part
    (`where` from part_index: the part of each example, -1 for none; n_parts: how many parts,
    by default 1 + the largest number in `where`, so that an empty last part is still reported)."""
    require_representable(net)
    where = np.asarray(where)
    if where.shape != (net.task.n_examples,) or where.dtype != np.int8:
        raise FourierCircuitsError(
            f"where has shape {where.shape} and dtype {where.dtype}: it must be int8 of shape "
            f"({net.task.n_examples},), one entry per example of D_p (part_index)"
        )
    if n_parts is None:
        n_parts = int(where.max()) + 1 if where.size else 0
    chunks = net.map_chunks(
        lambda c: _part_chunk_stats(c, where, n_parts), chunk_rows=chunk_rows, workers=workers
    )
    report = _report(net, [c.stats for c in chunks])
    parts = []
    for i in range(n_parts):
        scale = max(c.scale[i] for c in chunks) or 1.0
        parts.append(
            PartMargins(
                n_examples=sum(c.n[i] for c in chunks),
                margin=min(c.margin[i] for c in chunks),
                n_correct=sum(c.n_correct[i] for c in chunks),
                condition_3_8=max(c.gap[i] for c in chunks) / scale,
            )
        )
    return report, tuple(parts)
