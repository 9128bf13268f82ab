"""The maximum normalized margin bracketed by convex programs that are never told gamma*.

    from fourier_circuits.constructions.convex import bracket
    b = bracket(7, 2)                  # odd p: Theorem 4.1 (i) of arXiv 2402.09469
    b.lower_bound <= b.gamma_star <= b.upper_bound, b.relative_gap, b.failures
    b.as_dict()                        # what `fourier-circuits solve --json` prints

Lower bound: column generation over random neurons (constructions.convex.lp) finds a network;
its normalized margin is measured from its weights by brute force over all of D_p: the explicit
orbit network by theory.margin_report while p^k <= EXPLICIT_MAX_EXAMPLES, beyond that the orbit
network's logits through shift invariance (orbit_margin: one pass of the support neurons over
D_p; no Fourier formula), with the orbit-averaged Fourier form reported beside it as a
cross-check. Upper bounds, each rigorous by weak duality: the symmetric-q lemma at the LP's dual
and at the q an SOCP optimises, and for small p the k = 2 SDP and k = 3 SOS certificates made
rigorous by post-processing. Even p goes to constructions.convex.bracket_even.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import fourier_circuits.theory.budget as budget
from fourier_circuits.constructions.convex.certificates import (
    Bound,
    certify_sdp,
    optimal_symmetric_q,
    sdp_certificate,
    symmetric_q_bound,
)
from fourier_circuits.constructions.convex.lp import (
    SPARSIFY_MAX_ROWS,
    column_generation,
    orbit_network,
    orbit_neurons,
    reduced_margin,
    sparsify,
    symmetrised_dual,
)
from fourier_circuits.constructions.convex.pricing import check_starts
from fourier_circuits.constructions.convex.sos import certify_sos, sos_certificate
from fourier_circuits.theory import (
    FourierCircuitsError,
    PolyNet,
    Task,
    fourier_summary,
    gamma_star,
    iter_chunks,
    jsonable,
    margin_report,
    neuron_spectra,
)
from fourier_circuits.theory._validation import check_seed
from fourier_circuits.theory.task import require_enumerable
from fourier_circuits.theory.tolerances import GAP_TARGET, MARGIN_RTOL

#: Largest p^k for which the explicit orbit network (width support * p^k) is built and measured
#: by theory.margin_report, and for which its network is returned (`solve --save`).
EXPLICIT_MAX_EXAMPLES = 3000
#: Largest p for the k = 2 SDP certificate (PSD dimension 2p(p+1) = 264 at p = 11).
SDP_MAX_P = 11
#: Largest p for the k = 3 SOS certificate (Gram blocks up to 2p + 8 after the symmetry
#: reduction; the rigorous check rebuilds the real Gram matrix of size 2p(4p+1): 1378 at p = 13).
SOS_MAX_P = 13
METHODS = ("reduced", "full")

Progress = Callable[[int, float, float, int], None]


@dataclass(frozen=True)
class Bracket:
    """lower_bound <= max normalized margin <= upper_bound, and how each was obtained.

    upper_bounds: every rigorous bound computed (upper_bound is the smallest); certificate: the
    SDP (k = 2) or SOS (k = 3) post-processing figures, keys sdp_* or sos_*; sparse: the vertex
    of the full LP on the support's orbit (sparse_width, sparse_normalized_margin,
    sparse_margin_ratio) when asked for; network: the explicit network of the lower bound (None
    when p^k > EXPLICIT_MAX_EXAMPLES in the reduced method), or the sparsified one; failures: the
    checked conditions that fail (gamma* inside the bracket, the gap at most GAP_TARGET, the
    certificates accepted, the sparsified network as good as the orbit network).
    """

    p: int
    k: int
    method: str
    lower_bound: float
    upper_bound: float
    gamma_star: float
    support_size: int
    seconds: float
    relative_gap: float
    lower_bound_method: str
    upper_bound_method: str
    upper_bounds: tuple[Bound, ...]
    heuristic_pricing_value: float
    lp_value: float
    lp_duality_gap: float
    solver: str
    status: str
    solver_fallbacks: tuple[str, ...]
    iterations: int
    converged: bool
    columns: int
    support_frequencies: tuple[int, ...]
    frequencies_covered: float
    single_frequency_share: float
    max_normalized_power_median: float
    max_normalized_power_min: float
    q_total_variation_from_uniform: float
    lower_bound_fourier_form: float | None = None
    certificate: dict[str, Any] = field(default_factory=dict)
    sparse: dict[str, Any] = field(default_factory=dict)
    failures: tuple[str, ...] = ()
    network: PolyNet | None = field(default=None, repr=False, compare=False)

    @property
    def holds(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: DESIGN.md's `solve` keys first; the certificate and sparse figures flat."""
        data: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            if name in ("certificate", "sparse", "failures", "network"):
                continue
            value = getattr(self, name)
            if name == "upper_bounds":
                value = [
                    {"value": b.value, "method": b.method, "rigorous": b.rigorous} for b in value
                ]
            elif name == "heuristic_pricing_value":
                value = {"value": value, "method": "multi-start local pricing", "rigorous": False}
            elif name == "lower_bound_fourier_form" and value is None:
                continue
            data[name] = value
        return dict(jsonable({**data, **self.certificate, **self.sparse}))


def orbit_margin(neurons: np.ndarray, lam: np.ndarray, p: int, k: int) -> float:
    """The normalized margin of the orbit network (lp.orbit_network) by brute force over D_p,
    without building it (its width is support * p^k).

    The orbit network holds every shift (a_j -> a_j + t_j, c -> c + sum t) of each unit support
    neuron n_i with weight lam_i / p^k, so its logit is f(a)[c] = sum_i lam_i H_i(c - y) with
    H_i(d) = E_b[n_i(b)[y_b + d]] over b in D_p (b = a + t runs over all of D_p): one pass of the
    support neurons over D_p. Then the margin is the same at every input,
    F(0) - max_{d != 0} F(d) with F = sum_i lam_i H_i, and ||theta||^(k+1) = sum_i lam_i.
    """
    task = Task(p, k)
    V = np.asarray(neurons, dtype=np.float64).reshape(-1, k + 1, p)
    V = V / np.linalg.norm(V.reshape(V.shape[0], -1), axis=1)[:, None, None]  # unit neurons
    support = PolyNet(V[:, :k], V[:, k])
    S = np.zeros((p, support.m))  # S[r, i] = sum over b with y_b = r of z_i(b)^k
    for _, inputs in iter_chunks(task):
        np.add.at(S, inputs.sum(axis=1) % p, support.hidden(inputs) ** k)
    shifts = (np.arange(p)[:, None] + np.arange(p)[None, :]) % p  # [r, d] -> r + d
    # H[i, d] = (1/p^k) sum_r S[r, i] w_i(r + d)
    H = np.einsum("ri,ird->id", S, V[:, k][:, shifts]) / task.n_examples
    F = np.asarray(lam, dtype=np.float64) @ H
    return float((F[0] - F[1:].max()) / np.sum(lam))


#: Work of orbit_margin per input and support neuron: the hidden layer and its power (a few flop)
#: and numpy's unbuffered np.add.at (tens of ns, hundreds of flop at theory.budget's rate).
ORBIT_FLOP_PER_ENTRY = 500


def _validate(method: str, seed: object, starts: object, max_seconds: object) -> None:
    if method not in METHODS:
        raise FourierCircuitsError(f"method={method!r} must be one of {', '.join(METHODS)}")
    check_seed(seed)
    check_starts(starts)
    if not isinstance(max_seconds, (int, float)) or not (
        math.isfinite(max_seconds) and max_seconds > 0
    ):
        raise FourierCircuitsError(f"max_seconds={max_seconds!r} must be a positive number")


def _lower_bound(
    neurons: np.ndarray, lam: np.ndarray, task: Task, method: str
) -> tuple[float, str, PolyNet | None, float | None]:
    """(normalized margin of the LP's network, how it was measured, the explicit network when
    built, the orbit-averaged Fourier form when that is the cross-check)."""
    p, k = task.p, task.k
    if method == "reduced" and task.n_examples > EXPLICIT_MAX_EXAMPLES:
        budget.require_time(
            f"orbit_margin over D_p at p={p}, k={k} ({len(lam)} support neurons)",
            float(task.n_examples) * len(lam) * ORBIT_FLOP_PER_ENTRY,
        )
    if method == "full":
        V = neurons.reshape(-1, k + 1, p)
        r = lam ** (1.0 / (k + 1))
        net = PolyNet(r[:, None, None] * V[:, :k], r[:, None] * V[:, k])
        margin = margin_report(net).normalized_margin
        return margin, "theory.margin_report of the LP network", net, None
    if task.n_examples <= EXPLICIT_MAX_EXAMPLES:
        net = orbit_network(neurons, lam, p, k)
        margin = margin_report(net).normalized_margin
        return margin, "theory.margin_report of the explicit orbit network", net, None
    return (
        orbit_margin(neurons, lam, p, k),
        "brute force over D_p of the orbit network's logits (shift invariance, orbit_margin)",
        None,
        reduced_margin(neurons, lam, p, k),
    )


def _certificate(p: int, k: int) -> tuple[Bound | None, dict[str, Any]]:
    """The k = 2 SDP or k = 3 SOS certificate where it is affordable, made rigorous."""
    if k == 2 and p <= SDP_MAX_P:
        sdp = certify_sdp(sdp_certificate(p))
        return sdp.bound, {
            "sdp_accepted": sdp.accepts(),
            "sdp_min_eigenvalue": sdp.min_eigenvalue,
            "sdp_coefficient_residual": sdp.coefficient_residual,
            "sdp_deficit": sdp.deficit,
        }
    if k == 3 and p <= SOS_MAX_P:
        sos = certify_sos(sos_certificate(p))  # q optimised jointly, not given
        return sos.bound, {
            "sos_accepted": sos.accepts(),
            "sos_min_eigenvalue": sos.min_eigenvalue,
            "sos_coefficient_residual": sos.coefficient_residual,
            "sos_deficit": sos.deficit,
        }
    return None, {}


def bracket(
    p: int,
    k: int,
    *,
    method: str = "reduced",
    seed: int = 0,
    starts: int = 10,
    max_seconds: float = 600.0,
    certificates: bool = True,
    sparsify_network: bool = False,
    progress: Progress | None = None,
) -> Bracket:
    """Bracket gamma*(p, k) for odd p (Theorem 4.1 (i)); see the module docstring.

    method: "reduced" (shift-reduced master, p - 1 rows) or "full" (p^k (p - 1) rows, tiny p);
    seed: the random neurons' generator; starts: pricing starts per iteration; max_seconds:
    column generation's time limit; certificates: the SDP/SOS certificates where affordable;
    sparsify_network: also a vertex of the full LP on the support's orbit (fewer neurons);
    progress(iteration, t, best_price, columns) after each column-generation iteration.
    Refused up front (before column generation) when D_p is too large to enumerate
    (theory.task.require_enumerable) or a size rule below fails; the orbit network's pass over
    D_p is estimated (ORBIT_FLOP_PER_ENTRY) once its support is known.
    """
    task = Task(p, k)
    p, k = task.p, task.k
    _validate(method, seed, starts, max_seconds)
    # the lower bound measures the LP's network over all of D_p: refused now, not after the LP
    require_enumerable(task)
    pairs = task.n_examples * (p - 1)
    if sparsify_network and pairs > SPARSIFY_MAX_ROWS:
        raise FourierCircuitsError(
            f"sparsifying solves the full LP, p^k (p-1) = {pairs} rows at p={p}, k={k}; at most "
            f"{SPARSIFY_MAX_ROWS} (use a smaller p or k)"
        )
    start = time.perf_counter()
    cg = column_generation(
        p,
        k,
        rng=np.random.default_rng(seed),
        method=method,
        starts=int(starts),
        max_seconds=float(max_seconds),
        progress=progress,
    )
    neurons, lam = cg.support()
    lower, lower_method, net, fourier_form = _lower_bound(neurons, lam, task, method)
    q = cg.master.q if method == "reduced" else symmetrised_dual(cg.master.q, p, k)
    at_dual = symmetric_q_bound(q, p, k)
    q_opt, _ = optimal_symmetric_q(p, k)
    at_opt = symmetric_q_bound(q_opt, p, k)
    bounds = [
        Bound(at_dual.value, at_dual.method + ", q = the LP's dual", True),
        Bound(at_opt.value, at_opt.method + ", q optimised (SOCP)", True),
    ]
    certified, certificate = _certificate(p, k) if certificates else (None, {})
    if certified is not None:
        bounds.append(certified)
    seconds = time.perf_counter() - start
    best = min(bounds, key=lambda bd: bd.value)
    gstar = gamma_star(p, k)
    gap = (best.value - lower) / best.value
    V = neurons.reshape(-1, k + 1, p)
    support_net = PolyNet(V[:, :k], V[:, k])
    spectra = neuron_spectra(support_net)
    summary = fourier_summary(support_net, spectra=spectra)  # one DFT of the support
    uniform = np.full(p - 1, 1.0 / (p - 1))
    failures = []
    if lower > gstar * (1 + MARGIN_RTOL):
        failures.append(f"lower bound <= gamma* (lower bound {lower:.12g} > {gstar:.12g})")
    if best.value < gstar * (1 - MARGIN_RTOL):
        failures.append(f"gamma* <= upper bound (upper bound {best.value:.12g} < {gstar:.12g})")
    if gap > GAP_TARGET:
        failures.append(f"relative gap <= {GAP_TARGET:g} (gap {gap:.3g})")
    for kind in ("sdp", "sos"):
        if certificate.get(f"{kind}_accepted") is False:
            failures.append(f"the {kind.upper()} certificate survives its rigorous post-processing")
    sparse: dict[str, Any] = {}
    if sparsify_network:
        columns = orbit_neurons(neurons, p, k) if method == "reduced" else neurons
        net = sparsify(columns, p, k).network(p, k)
        sparse_margin = margin_report(net).normalized_margin
        sparse = {
            "sparse_width": net.m,
            "sparse_normalized_margin": sparse_margin,
            "sparse_margin_ratio": sparse_margin / gstar,
        }
        # the orbit network is feasible in the sparsified LP, so a vertex cannot do worse
        if sparse_margin < lower * (1 - GAP_TARGET):
            failures.append(
                "the sparsified network keeps the lower bound "
                f"({sparse_margin:.12g} < {lower:.12g})"
            )
    return Bracket(
        p=p,
        k=k,
        method=method,
        lower_bound=lower,
        upper_bound=best.value,
        gamma_star=gstar,
        support_size=len(lam),
        seconds=seconds,
        relative_gap=gap,
        lower_bound_method=lower_method,
        upper_bound_method=best.method,
        upper_bounds=tuple(bounds),
        heuristic_pricing_value=cg.best_price,
        lp_value=cg.master.t,
        lp_duality_gap=cg.master.gap,
        solver=cg.master.info.solver,
        status=cg.master.info.status,
        solver_fallbacks=tuple(cg.master.info.attempts),
        iterations=cg.iterations,
        converged=cg.converged,
        columns=int(cg.neurons.shape[0]),
        support_frequencies=tuple(sorted({int(z) for z in spectra.dominant})),
        frequencies_covered=summary.frequencies_covered,
        single_frequency_share=summary.single_frequency_share,
        max_normalized_power_median=summary.max_normalized_power_median,
        max_normalized_power_min=summary.max_normalized_power_min,
        q_total_variation_from_uniform=0.5 * float(np.abs(q - uniform).sum()),
        lower_bound_fourier_form=fourier_form,
        certificate=certificate,
        sparse=sparse,
        failures=tuple(failures),
        network=net,
    )
