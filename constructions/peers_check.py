"""A network measured the way Theorem 4.1 of arXiv 2402.09469 speaks of it, and a peer
construction (constructions.peers) built and checked: what `construct --design PEER` prints.

    from fourier_circuits.constructions.peers_check import check_peer, measure_network
    c = check_peer(31, 2, "cogo4")      # c.accuracy ~ 0.52, c.margin_ratio < 0: not max-margin
    c.holds                              # True: the build has cogo4's own defining property

By brute force over D_p (theory.margin_report) and one DFT per neuron (theory.fourier_summary):
accuracy (the share of D_p whose label logit is strictly the largest), normalized margin and its
ratio to gamma*, the share of single-frequency neurons, frequency coverage. A measured peer fails
only when the build breaks the peer's own defining property (Peer.own_claim); cogo6 is judged like
the phase designs (constructions.checked): normalized margin = gamma* and the certificate pair.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from fourier_circuits.constructions.peers import (
    MAX_MARGIN,
    MEASURED_NOTE,
    build_peer,
    get_peer,
)
from fourier_circuits.theory import (
    PolyNet,
    check_certificate,
    fourier_summary,
    jsonable,
    judge,
    margin_report,
)
from fourier_circuits.theory.summary import network_measurements
from fourier_circuits.theory.tolerances import MARGIN_RTOL, PHASE_ATOL


@dataclass(frozen=True)
class Measurement:
    """What brute force over D_p and the neurons' spectra say about one network.

    accuracy: share of D_p with g(theta, a) > 0; margin_ratio: normalized margin / gamma*;
    single_frequency_share: share of active neurons with max normalized power >= 1 - 1e-9;
    neurons_per_frequency: width / ((p-1)/2); per_frequency_counts: active neurons whose dominant
    frequency is zeta, zeta = 0..(p-1)/2; max_phase_residual: max |phi_1 + ... + phi_k - phi_w|.
    """

    p: int
    k: int
    width: int
    accuracy: float
    normalized_margin: float
    gamma_star: float
    margin_ratio: float
    relative_error: float
    all_correct: bool
    all_on_margin: bool
    wrong_labels_tied: bool
    single_frequency_share: float
    frequencies_covered: float
    max_normalized_power_median: float
    max_phase_residual: float
    neurons_per_frequency: float
    per_frequency_counts: tuple[int, ...]
    n_examples: int
    certificate_holds: bool
    judge_failures: tuple[str, ...]


def measure_network(net: PolyNet) -> Measurement:
    """Measure net over all of D_p (module docstring); refused up front by theory's budget when
    the pass over D_p would not fit or finish."""
    report = margin_report(net)
    fourier = fourier_summary(net)
    certificate = check_certificate(net, report=report)
    failures = judge(network_measurements(report, fourier), regime="max_margin").failures
    return Measurement(
        p=net.p,
        k=net.k,
        width=net.m,
        accuracy=report.n_correct / report.n_examples,
        normalized_margin=report.normalized_margin,
        gamma_star=report.gamma_star,
        margin_ratio=report.margin_ratio,
        relative_error=report.relative_error,
        all_correct=report.all_correct,
        all_on_margin=report.all_on_margin,
        wrong_labels_tied=report.wrong_labels_tied,
        single_frequency_share=fourier.single_frequency_share,
        frequencies_covered=fourier.frequencies_covered,
        max_normalized_power_median=fourier.max_normalized_power_median,
        max_phase_residual=fourier.max_phase_residual,
        neurons_per_frequency=net.m / ((net.p - 1) // 2),
        per_frequency_counts=fourier.neurons_per_frequency,
        n_examples=report.n_examples,
        certificate_holds=certificate.holds,
        judge_failures=tuple(failures),
    )


@dataclass(frozen=True)
class PeerCheck:
    """A peer's network at (p, k) and what was measured on it; failures: its own defining
    property broken (measured peers) or Theorem 4.1's claims (cogo6, claim max_margin)."""

    p: int
    k: int
    design: str
    claim: str
    citation: str
    seed: int | None
    measurement: Measurement
    seconds: float
    failures: tuple[str, ...] = ()
    network: PolyNet | None = field(default=None, repr=False, compare=False)

    @property
    def holds(self) -> bool:
        return not self.failures

    @property
    def accuracy(self) -> float:
        return self.measurement.accuracy

    @property
    def margin_ratio(self) -> float:
        return self.measurement.margin_ratio

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: construct's keys (p, k, width, normalized_margin, gamma_star,
        relative_error, all_correct, frequencies_covered) and the peer's."""
        m = self.measurement
        data: dict[str, Any] = {"p": self.p, "k": self.k, "design": self.design}
        data |= {name: getattr(m, name) for name in m.__dataclass_fields__ if name != "p"}
        del data["judge_failures"]
        data |= {
            "claim": self.claim,
            "note": MEASURED_NOTE if self.claim != MAX_MARGIN else "judged as a construction",
            "own_claim": get_peer(self.design).own_claim,
            "citation": self.citation,
            "seed": self.seed,
            "seconds": self.seconds,
        }
        return dict(jsonable(data))


def _own_failures(name: str, m: Measurement) -> list[str]:
    """The peer's defining property (Peer.own_claim), checked on the measurement."""
    h = (m.p - 1) // 2
    counts = m.per_frequency_counts[1:]
    failures = []
    if name == "cogo6":
        failures += list(m.judge_failures)
        if not m.certificate_holds:
            failures.append("certificate pair of Def 3.5 (all on the margin, wrong labels tied)")
    if name in ("gromov", "cogo4", "cogo6"):
        if m.single_frequency_share != 1.0 or m.per_frequency_counts[0] != 0:
            failures.append("every neuron has one frequency zeta in 1..(p-1)/2")
        if m.max_phase_residual > PHASE_ATOL:
            failures.append("phases add up (phi_1 + ... + phi_k = phi_w)")
    if name == "gromov" and sum(counts) == m.width:
        low, high = m.width // h, -(-m.width // h)
        if not all(low <= c <= high for c in counts):
            failures.append(f"frequencies spread evenly ({low}..{high} neurons each)")
    if name in ("cogo4", "cogo6") and counts != (int(name[-1]),) * h:
        failures.append(f"{name[-1]} neurons at every frequency")
    if name == "morwani-dense":
        expected = 4 / (2 * m.p**2 * 3**1.5)  # logits 4 delta(c = y) at ||theta||_{2,3} = 1
        fits = m.all_correct and m.all_on_margin and m.wrong_labels_tied
        if not fits or abs(m.normalized_margin - expected) > MARGIN_RTOL * expected:
            failures.append("fits D_p with logits 4 delta(c = y) (normalized 2 / (3^(3/2) p^2))")
    return failures


def check_peer(
    p: int, k: int, name: str, *, width: int | None = None, seed: int | None = None
) -> PeerCheck:
    """Build peer `name` (constructions.peers.build_peer: width and seed validated, refused
    before anything is built when too large) and measure it (module docstring)."""
    peer = get_peer(name)
    start = time.perf_counter()
    net = build_peer(p, k, name, width=width, seed=seed)
    measurement = measure_network(net)
    seconds = time.perf_counter() - start
    return PeerCheck(
        p=net.p,
        k=net.k,
        design=name,
        claim=peer.claim,
        citation=peer.citation,
        seed=net.meta.get("seed") if peer.random else None,
        measurement=measurement,
        seconds=seconds,
        failures=tuple(_own_failures(name, measurement)),
        network=net,
    )
