"""`inspect` of a TransformerLens state dict: read (constructions.foreign.lens_from_state), run
and measured (analyse_lens), the claims that apply to a Transformer checked, figures drawn.

Called by experiments.inspect_network for every file whose keys are TransformerLens's. The
facts (accuracy, key frequencies, the attention's Fourier concentration beside its noise
control, the neurons' and logits' Fourier shares) are reported apart from the claims. Checked
by default: LENS_CLAIMS ("accuracy" >= 0.99 over D_p, "attention_fourier",
"attention_fourier_eq": concentration above the noise control's 99th percentile). `--claims`
names: the Transformer's own, or the MLP claims' names read as their Transformer counterparts
(all_correct -> accuracy; single_frequency_neurons, every_frequency_used, the "fourier" group
-> the attention's Fourier claims); the margin claims (Theorem 4.1 (i), about the paper's MLP)
do not apply to a Transformer and are listed in `claims_not_applicable`.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

from fourier_circuits.constructions.foreign import StateDict, analyse_lens, lens_from_state
from fourier_circuits.constructions.foreign.lens_analysis import CLAIMS as LENS_CLAIMS
from fourier_circuits.experiments.outcome import fmt

#: MLP claim names (experiments.inspect_claims) -> the Transformer's claims they stand for.
COUNTERPARTS: dict[str, tuple[str, ...]] = {
    "all_correct": ("accuracy",),
    "single_frequency_neurons": ("attention_fourier", "attention_fourier_eq"),
    "every_frequency_used": ("attention_fourier", "attention_fourier_eq"),
}


def lens_claims(claims: Collection[str] | None) -> tuple[tuple[str, ...], list[str]]:
    """(the Transformer's claims to check, the names asked for that do not apply)."""
    if claims is None:
        return LENS_CLAIMS, []
    chosen: set[str] = set()
    not_applicable = []
    for name in claims:
        if name in LENS_CLAIMS:
            chosen.add(name)
        elif name in COUNTERPARTS:
            chosen.update(COUNTERPARTS[name])
        else:
            not_applicable.append(name)
    return tuple(name for name in LENS_CLAIMS if name in chosen), not_applicable


def inspect_lens(
    state: StateDict, *, out_dir: Path | None, claims: Collection[str] | None
) -> tuple[dict[str, Any], list[tuple[str, str]], list[str]]:
    """(JSON data, the table's rows, the failed checked claims) of one TransformerLens state
    dict; with out_dir, the figures of experiments.plots_lens are written there and listed in
    data["figures"] by file name."""
    model = lens_from_state(state)
    analysis = analyse_lens(model, seed=0)
    checked, not_applicable = lens_claims(claims)
    data = analysis.as_dict()
    details = data.pop("claims")
    data["claims"] = {name: bool(detail["holds"]) for name, detail in details.items()}
    data["claim_details"] = details
    data["checked"] = list(checked)
    if not_applicable:
        data["claims_not_applicable"] = not_applicable
    data["skipped_tensors"] = dict(state.skipped)
    failed = analysis.failures(checked)
    if out_dir is not None:
        from fourier_circuits.experiments.plots_lens import save_lens_plots  # matplotlib

        data["figures"] = [path.name for path in save_lens_plots(analysis, out_dir)]
    rows = [
        ("model", _model_row(data["config"])),
        ("p, k", f"{analysis.p}, {analysis.k} (tokens a_1 .. a_k '=')"),
        ("accuracy", f"{fmt(analysis.accuracy)} over all {analysis.n_examples} inputs"),
        ("key frequencies", ", ".join(map(str, analysis.key_frequencies)) or "none stand out"),
        (
            "attention_fourier_concentration",
            f"{fmt(analysis.attention_fourier_concentration)} (noise q99 "
            f"{fmt(analysis.noise_concentration_q99)})",
        ),
        (
            "eq_attention_concentration",
            f"{fmt(analysis.eq_attention_concentration)} (noise q99 "
            f"{fmt(analysis.eq_noise_concentration_q99)})",
        ),
        (
            "neuron_single_frequency_fraction",
            f"{fmt(analysis.neuron_single_frequency_fraction)} of {analysis.active_neurons} "
            "active neurons",
        ),
        (
            "logit_variance_explained_by_key_frequencies",
            fmt(analysis.logit_variance_explained_by_key_frequencies),
        ),
        ("notes", "; ".join(model.notes)),
        ("claims checked", ", ".join(checked) or "none"),
    ]
    if not_applicable:
        rows.append(("not applicable", ", ".join(not_applicable) + " (MLP claims)"))
    return data, rows, failed


def _model_row(config: dict[str, Any]) -> str:
    mlp = f"MLP {config['d_mlp']} {config['act_fn']}" if config["d_mlp"] else "attention only"
    norm = config["normalization_type"] or "no LayerNorm"
    return (
        f"1 layer, d_model {config['d_model']}, {config['n_heads']} heads of "
        f"{config['d_head']}, {mlp}, {norm}"
    )
