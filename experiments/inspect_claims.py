"""Which claims of arXiv 2402.09469 `inspect` checks for a network, given how it was trained.

Theorem 4.1 is about max-margin networks: gamma* is the largest normalized margin of a unit-norm
network, and Wei, Lee, Liu and Ma (2019) show that cross-entropy training with vanishing
regularisation approaches it. A network trained otherwise (MSE, strong weight decay: d-doshi's
grokking setup) is not margin-maximising, so its margin ratio is a fact about it, not a test of
the theorem. Here:
- ``training_regime(meta)`` reads how a network was made from its file's metadata (this
  toolkit's provenance, a safetensors ``__metadata__``, a checkpoint's "config"): "max_margin"
  (a construction: claimed at gamma* itself), "margin_training" (a margin or GD run of `train`,
  or cross-entropy with weight decay at most VANISHING_DECAY: claimed at MARGIN_RATIO_CLAIM),
  "other" (MSE, or more weight decay), "unknown";
- ``default_claims(kind, regime)``: an .npz file keeps every claim of the max-margin verdict
  (as `inspect` always did); a foreign file whose training maximises the margin gets them too,
  any other gets the Fourier claims only (the margin claims are reported, not checked);
- ``parse_claims(text)``: `--claims` as claim names (theory.claims) and groups (CLAIM_GROUPS);
- ``checked_verdict(summary, names, min_ratio)``: every claim's result, those checked, and the
  failures among them (what decides the exit status).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from fourier_circuits.theory import FourierCircuitsError, judge
from fourier_circuits.theory.claims import theorem_claims
from fourier_circuits.theory.summary import NetworkSummary

#: The max-margin verdict's claims, in its order (theory.claims, regime "max_margin") ...
MAX_MARGIN_CLAIMS = tuple(claim.name for claim in theorem_claims("max_margin"))
#: ... and every claim a network can be checked against (the trained regime adds phases_add_up).
ALL_CLAIMS = (*MAX_MARGIN_CLAIMS, "phases_add_up")
#: --claims groups: name -> claims.
CLAIM_GROUPS: dict[str, tuple[str, ...]] = {
    "fourier": ("single_frequency_neurons", "every_frequency_used"),
    "margin": (
        "margin_reaches_gamma_star",
        "margin_at_most_gamma_star",
        "class_weighted_at_most_gamma_star",
    ),
    "all": MAX_MARGIN_CLAIMS,
    "none": (),
}
#: Weight decay up to this counts as vanishing regularisation (the paper's AdamW runs use 0.005).
VANISHING_DECAY = 0.01
REGIMES = ("max_margin", "margin_training", "other", "unknown")


def parse_claims(text: str | None) -> tuple[str, ...] | None:
    """`--claims a,b,group` as claim names, the MLP's in ALL_CLAIMS order, then the
    Transformer's (constructions.foreign.lens_analysis.CLAIMS; None: not given)."""
    if text is None:
        return None
    from fourier_circuits.constructions.foreign.lens_analysis import CLAIMS as LENS_CLAIMS

    known = (*ALL_CLAIMS, *(name for name in LENS_CLAIMS if name not in ALL_CLAIMS))
    chosen: set[str] = set()
    for word in (part.strip() for part in text.split(",")):
        if word in CLAIM_GROUPS:
            chosen.update(CLAIM_GROUPS[word])
        elif word in known:
            chosen.add(word)
        else:
            raise FourierCircuitsError(
                f"--claims {word!r} is not a claim or group; claims: {', '.join(known)}; "
                f"groups: {', '.join(CLAIM_GROUPS)}"
            )
    return tuple(name for name in known if name in chosen)


def mlp_claims(names: tuple[str, ...]) -> tuple[str, ...]:
    """The names of `names` that an MLP (the paper's network) is checked against; a
    Transformer's claim among them is refused (it does not apply)."""
    foreign = [name for name in names if name not in ALL_CLAIMS]
    if foreign:
        raise FourierCircuitsError(
            f"--claims {', '.join(foreign)}: claims of a Transformer, not of the paper's MLP "
            f"(its claims: {', '.join(ALL_CLAIMS)})"
        )
    return names


def _places(meta: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """meta, its "config", and its "provenance" (a JSON string in exported files) and config."""
    places = [meta]
    provenance = meta.get("provenance")
    if isinstance(provenance, str):
        try:
            provenance = json.loads(provenance)
        except ValueError:
            provenance = None
    for place in (meta.get("config"), provenance):
        if isinstance(place, Mapping):
            places.append(place)
            if isinstance(place.get("config"), Mapping):
                places.append(place["config"])
    return places


def _first(places: list[Mapping[str, Any]], *keys: str) -> Any:
    for place in places:
        for key in keys:
            if place.get(key) is not None:
                return place[key]
    return None


def training_regime(meta: Mapping[str, Any]) -> tuple[str, str]:
    """(regime, reason): how the network was made, from its metadata (module docstring)."""
    places = _places(meta)
    command = _first(places, "command")
    optimizer = str(_first(places, "optimizer", "optim") or "").lower()
    if command in ("construct", "solve"):
        return "max_margin", f"a construction of this toolkit (`{command}`): built at gamma*"
    if command == "train" and optimizer in ("margin", "gd"):
        return "margin_training", (
            f"`train --optimizer {optimizer}` of this toolkit: trained towards the maximum margin"
        )
    loss = str(_first(places, "loss", "loss_fn", "criterion", "objective") or "").lower()
    decay = _first(places, "weight_decay", "wd", "lambda", "lambda_")
    try:
        decay_value = None if decay is None else float(decay)
    except (TypeError, ValueError):
        decay_value = None
    if command == "train" and optimizer == "adamw":
        loss = loss or "cross-entropy"
    if "mse" in loss or "squared" in loss:
        return "other", f"trained with MSE (loss {loss!r}): not margin-maximising training"
    if decay_value is not None and decay_value > VANISHING_DECAY:
        return "other", (
            f"trained with weight decay {decay_value:g} (> {VANISHING_DECAY:g}): not the "
            "vanishing regularisation under which training maximises the margin"
        )
    if any(word in loss for word in ("cross", "entropy", "nll", "xent", "ce")):
        return "margin_training", (
            f"cross-entropy (loss {loss!r}) with weight decay "
            f"{'none' if decay_value is None else f'{decay_value:g}'}: training approaches "
            "the maximum margin (Wei et al. 2019)"
        )
    return "unknown", "the file does not say how the network was trained"


def default_claims(kind: str, regime: str) -> tuple[str, ...]:
    """The claims checked without --claims (module docstring)."""
    if kind == "npz" or regime in ("max_margin", "margin_training"):
        return MAX_MARGIN_CLAIMS
    return CLAIM_GROUPS["fourier"]


def regime_note(regime: str, reason: str, checked: tuple[str, ...]) -> str:
    """A sentence saying which claims apply to this network and why."""
    if regime in ("max_margin", "margin_training"):
        return f"{reason}: the margin claims of Theorem 4.1 apply"
    margin = [name for name in CLAIM_GROUPS["margin"] if name not in checked]
    if not margin:
        return f"{reason}; the margin claims are checked because --claims asks for them"
    return (
        f"{reason}; gamma* is the maximum margin, which cross-entropy training with vanishing "
        "regularisation approaches, so the margin claims are reported, not checked (pass "
        "--claims all to check them)"
    )


def checked_verdict(
    summary: NetworkSummary, names: tuple[str, ...], *, min_ratio: float
) -> tuple[dict[str, bool], list[str]]:
    """(claim -> holds for the max-margin claims and any checked extra, failures among `names`)."""
    results = {r.claim.name: r for r in summary.verdict(min_ratio=min_ratio).results}
    if "phases_add_up" in names:
        spectra = summary.spectra
        residual = float(np.median(np.abs(spectra.phase_residual[spectra.active])))
        measured = dataclasses.replace(summary.measurements, median_phase_residual=residual)
        for result in judge(measured, regime="trained", min_ratio=min_ratio).results:
            if result.claim.name == "phases_add_up":
                results["phases_add_up"] = result
    holds = {name: result.holds for name, result in results.items()}
    failures = [results[n].message for n in names if n in results and not results[n].holds]
    return holds, failures
