"""Summarise a PolyNet against Theorem 4.1 of arXiv 2402.09469: one function, one frozen result.

    from fourier_circuits.theory import summarise
    s = summarise(net)                # margins over all of D_p, per-neuron Fourier statistics
    s.failures()                      # [] when the claims below hold; else each claim, named
    s.as_dict()                       # JSON-ready: DESIGN.md's `inspect` keys and more

Every number comes from the theory module (margin_report, neuron_spectra, fourier_summary,
check_certificate, Condition 3.8 over D_p), so a network measured here, by `fourier-circuits
inspect`, by `train` or by `verify` gives the same numbers.

Claims (theory.claims, regime "max_margin"; `failures` names each failed one with its value):
- normalized margin reaches gamma* (Theorem 4.1 (i)): margin_ratio >= min_ratio, by default
  1 - MARGIN_RTOL, i.e. gamma* itself (`train` claims 0.99 for a trained network);
- normalized margin at most gamma* (Theorem 4.1 (i): gamma* is the maximum over unit networks);
- class-weighted margin at most gamma* (the single-neuron bound, Lemmas F.5-F.8 of v3);
- every example classified correctly;
- median maximum normalized power of the active neurons >= SINGLE_FREQUENCY_CLAIM (Thm 4.1 (ii));
- every frequency 1..(p-1)/2 is the dominant one of an active neuron (Theorem 4.1 (iii)).
Reported beside them, not claimed: phase-sum residuals, amplitude balance, Condition 3.8, the
certificate pair of Def 3.5 (all on the margin, wrong labels tied). They hold exactly at gamma*;
near it they hold only approximately, by amounts the margin ratio does not bound in closed form
(the analytic network with Gaussian noise of 1e-5 per weight, p = 7, k = 2: margin ratio 0.9996,
phase residual 2.4e-4, Condition 3.8 at 2.7e-4), so no fixed tolerance would be consistent with
the margin claim; the values are there to read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fourier_circuits.theory.claims import (
    NetworkMeasurements,
    Verdict,
    judge,
    validate_min_ratio,
)
from fourier_circuits.theory.errors import FourierCircuitsError
from fourier_circuits.theory.fourier import (
    FourierSummary,
    NeuronSpectra,
    fourier_summary,
    neuron_spectra,
)

# MAX_LOGIT_BOUND and require_representable live with the margins; re-exported here, their home
from fourier_circuits.theory.margins import MAX_LOGIT_BOUND as MAX_LOGIT_BOUND
from fourier_circuits.theory.margins import (
    CertificateCheck,
    MarginReport,
    check_certificate,
    margin_report,
    margins_from_logits,
)
from fourier_circuits.theory.margins import require_representable as require_representable
from fourier_circuits.theory.network import LogitChunk, PolyNet
from fourier_circuits.theory.serialise import jsonable
from fourier_circuits.theory.tolerances import MARGIN_RTOL

#: The default margin claim: gamma* itself, to the relative tolerance of theory.tolerances.
DEFAULT_MIN_RATIO = 1 - MARGIN_RTOL


def _condition_3_8_chunk(chunk: LogitChunk) -> tuple[float, float]:
    """(max g' - g, max |logit|) over one chunk of D_p."""
    g, g_weighted = margins_from_logits(chunk.logits, chunk.labels)
    return float((g_weighted - g).max()), float(np.abs(chunk.logits).max())


def condition_3_8_over_D_p(net: PolyNet, *, workers: int | None = None) -> float:
    """Condition 3.8 with q uniform on all of D_p: max over D_p of g' - g, relative to the largest
    |logit| (theory.condition_3_8 on every input, streamed; 0 when every wrong-label logit is
    maximal, i.e. all wrong labels tied)."""
    parts = net.map_chunks(_condition_3_8_chunk, workers=workers)
    scale = max(s for _, s in parts) or 1.0
    return max(d for d, _ in parts) / scale


def network_measurements(report: MarginReport, fourier: FourierSummary) -> NetworkMeasurements:
    """The measurements theory.judge needs, from a margin report over all of D_p and the Fourier
    summary of the active neurons."""
    return NetworkMeasurements(
        margin_ratio=report.margin_ratio,
        max_normalized_power_median=fourier.max_normalized_power_median,
        frequencies_covered=fourier.frequencies_covered,
        missing_frequencies=tuple(fourier.missing_frequencies),
        accuracy=report.n_correct / report.n_examples,
        n_correct=report.n_correct,
        n_examples=report.n_examples,
        class_weighted_ratio=report.mean_class_weighted / report.gamma_star,
    )


@dataclass(frozen=True)
class NetworkSummary:
    """A network measured against Theorem 4.1 (see the module docstring for the claims).

    report: theory.margin_report (all of D_p); spectra: theory.neuron_spectra (every neuron);
    fourier: theory.fourier_summary (the active neurons); certificate: Def 3.5's pair with uniform
    q; condition_3_8: max over D_p of (g' - g) / max |logit| (0 under Condition 3.8).
    """

    net: PolyNet
    report: MarginReport
    spectra: NeuronSpectra
    fourier: FourierSummary
    certificate: CertificateCheck
    condition_3_8: float

    @property
    def class_weighted_ratio(self) -> float:
        """E_unif[g'(theta / ||theta||)] / gamma*: between margin_ratio and 1 (Lemmas F.5-F.8)."""
        return self.report.mean_class_weighted / self.report.gamma_star

    @property
    def measurements(self) -> NetworkMeasurements:
        """What the claims of Theorem 4.1 are judged on (theory.claims)."""
        return network_measurements(self.report, self.fourier)

    def verdict(self, *, min_ratio: float = DEFAULT_MIN_RATIO) -> Verdict:
        """theory.judge in the "max_margin" regime, the margin claim at min_ratio."""
        return judge(self.measurements, regime="max_margin", min_ratio=min_ratio)

    def claims(self, *, min_ratio: float = DEFAULT_MIN_RATIO) -> dict[str, bool]:
        """Each claim (theory.claims, regime "max_margin") -> whether it holds."""
        return self.verdict(min_ratio=min_ratio).as_dict()

    def failures(self, *, min_ratio: float = DEFAULT_MIN_RATIO) -> list[str]:
        """The failed claims, each a readable sentence with its measured value."""
        return self.verdict(min_ratio=min_ratio).failures

    def as_dict(self, *, min_ratio: float = DEFAULT_MIN_RATIO) -> dict[str, Any]:
        """JSON-ready: DESIGN.md's `inspect` keys first, then every statistic, the claims and the
        per-neuron lists (`neurons`); non-finite floats become None."""
        min_ratio = validate_min_ratio(min_ratio)
        verdict = self.verdict(min_ratio=min_ratio)
        r, f, s = self.report, self.fourier, self.spectra
        active = s.active
        residual = np.abs(s.phase_residual[active])
        norms = s.norms[active]
        data: dict[str, Any] = {
            "p": r.p,
            "k": r.k,
            "width": r.m,
            "normalized_margin": r.normalized_margin,
            "gamma_star": r.gamma_star,
            "margin_ratio": r.margin_ratio,
            "all_correct": r.all_correct,
            "frequencies_covered": f.frequencies_covered,
            "max_normalized_power_median": f.max_normalized_power_median,
            "prime": self.net.task.prime,
            "n_examples": r.n_examples,
            "accuracy": r.n_correct / r.n_examples,
            "norm": r.norm,
            "margin": r.margin,
            "relative_error": r.relative_error,
            "class_weighted_ratio": self.class_weighted_ratio,
            "all_on_margin": r.all_on_margin,
            "wrong_labels_tied": r.wrong_labels_tied,
            "condition_3_8": self.condition_3_8,
            "certificate_holds": self.certificate.holds,
            "n_active": f.n_active,
            "missing_frequencies": list(f.missing_frequencies),
            "neurons_per_frequency": list(f.neurons_per_frequency),
            "max_normalized_power_min": f.max_normalized_power_min,
            "single_frequency_share": f.single_frequency_share,
            "max_phase_residual": f.max_phase_residual,
            "median_phase_residual": float(np.median(residual)),
            "min_amplitude_balance": f.min_amplitude_balance,
            "median_amplitude_balance": float(np.median(s.amplitude_balance[active])),
            "neuron_norm_max_over_min": float(norms.max() / norms.min()) if norms.min() else None,
            "min_ratio": min_ratio,
            "claims": verdict.as_dict(),
            "failed": verdict.failures,
            "neurons": {
                "dominant_frequency": s.dominant.tolist(),
                "max_normalized_power": s.max_normalized_power.tolist(),
                "phase_residual": s.phase_residual.tolist(),
                "amplitude_balance": s.amplitude_balance.tolist(),
                "norm": s.norms.tolist(),
                "active": s.active.tolist(),
            },
            "meta": self.net.meta,
        }
        return dict(jsonable(data))


def summarise(net: PolyNet, *, workers: int | None = None) -> NetworkSummary:
    """Measure `net` against Theorem 4.1 with two streaming passes over D_p (margins, then
    Condition 3.8) and one DFT of its weights. Refuses (FourierCircuitsError) a zero network,
    weights that would overflow float64 and a D_p too large to enumerate."""
    if not isinstance(net, PolyNet):
        raise FourierCircuitsError(f"net={type(net).__name__} must be a theory.PolyNet")
    require_representable(net)
    report = margin_report(net, workers=workers)
    spectra = neuron_spectra(net)
    return NetworkSummary(
        net=net,
        report=report,
        spectra=spectra,
        fourier=fourier_summary(net, spectra=spectra),
        certificate=check_certificate(net, report=report),
        condition_3_8=condition_3_8_over_D_p(net, workers=workers),
    )
