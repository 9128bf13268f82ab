"""One file through `inspect`: read it by its format, measure it against Theorem 4.1, and check
the claims that apply to how it was trained (experiments.inspect_claims).

- an .npz network file (DESIGN.md): theory.PolyNet.load; every claim checked by default;
- a PyTorch state dict or a .safetensors file of a two-layer MLP: constructions.foreign
  (load_state_dict, mlp_from_state: layout, power and biases, with notes), then the same
  measurement (theory.summarise) as an .npz;
- a TransformerLens state dict: experiments.inspect_lens (its own measurements and claims).
Every number is computed once per file, in this process.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fourier_circuits.constructions.foreign import (
    StateDict,
    detect_format,
    load_state_dict,
    mlp_from_state,
)
from fourier_circuits.experiments.inspect_claims import (
    checked_verdict,
    default_claims,
    mlp_claims,
    regime_note,
    training_regime,
)
from fourier_circuits.experiments.outcome import fmt
from fourier_circuits.theory import FourierCircuitsError, PolyNet, summarise
from fourier_circuits.theory.summary import DEFAULT_MIN_RATIO
from fourier_circuits.theory.tolerances import MARGIN_RATIO_CLAIM

FORMAT_CHOICES = ("auto", "npz", "pytorch", "safetensors", "lens")
LENS_MODULE = "fourier_circuits.experiments.inspect_lens"


@dataclass(frozen=True)
class Options:
    """What `inspect`'s flags ask of every file (None: not given)."""

    format: str  # one of FORMAT_CHOICES
    layout: str | None  # the MLP's column layout (constructions.foreign.LAYOUTS)
    k: int | None  # the MLP's activation power
    claims: tuple[str, ...] | None  # the claims to check (inspect_claims.parse_claims)
    min_ratio: float | None  # the margin claim's threshold


@dataclass(frozen=True)
class Inspected:
    """One file's result: the JSON object, the table's rows, the failed checked claims, and the
    network of eq. 2 when it is one (for the figures)."""

    data: dict[str, Any]
    rows: list[tuple[str, str]]
    failures: list[str]
    network: PolyNet | None


def _is_lens(state: StateDict) -> bool:
    """Whether the state dict is TransformerLens's (constructions.foreign.lens decides)."""
    try:
        lens = importlib.import_module("fourier_circuits.constructions.foreign.lens")
    except ImportError:  # the reader is not part of this installation: recognise the keys
        return any(name.startswith(("embed.W_E", "blocks.0.attn.")) for name in state.tensors)
    return bool(lens.is_lens_state(state.tensors))


def inspect_file(path: Path, options: Options, *, out_dir: Path | None) -> Inspected:
    """Read, measure and judge one file (module docstring). out_dir: where a TransformerLens
    file's figures go (an .npz's and an MLP's are drawn by the caller from `network`)."""
    forced = options.format
    # an .npz by name goes to its own loader, whose refusals name what is wrong with it
    by_name = path.suffix.lower() == ".npz" and forced in ("auto", "npz")
    kind = "npz" if by_name else detect_format(path)
    if forced not in ("auto", "lens") and forced != kind:
        raise FourierCircuitsError(f"cannot read {str(path)!r} as {forced}: it is a {kind} file")
    if kind == "npz":
        if forced == "lens":
            raise FourierCircuitsError(
                f"cannot read {str(path)!r} as lens: it is an .npz network file"
            )
        net = PolyNet.load(path)
        return measure(net, path, kind="npz", extra={}, options=options)
    state = load_state_dict(path)
    if forced == "lens" or _is_lens(state):
        return _inspect_lens(state, path, options, out_dir=out_dir)
    imported = mlp_from_state(state, k=options.k, layout=options.layout)
    extra = {
        "format": kind,
        "layout": imported.layout,
        "keys_used": list(imported.keys_used),
        "k_source": imported.k_source,
        "bias_folded": imported.bias_folded,
        "norm_without_biases": imported.norm_without_biases,
        "other_layout_accuracy": imported.other_layout_accuracy,
        "notes": list(imported.notes),
        "file_metadata": dict(state.metadata),
        "skipped_tensors": dict(state.skipped),
    }
    return measure(imported.network, path, kind=kind, extra=extra, options=options)


def _inspect_lens(
    state: StateDict, path: Path, options: Options, *, out_dir: Path | None
) -> Inspected:
    try:
        module = importlib.import_module(LENS_MODULE)
    except ModuleNotFoundError as err:
        if err.name != LENS_MODULE:
            raise
        raise FourierCircuitsError(
            f"cannot inspect {str(path)!r}: a TransformerLens state dict, and the TransformerLens "
            f"reader ({LENS_MODULE}) is not part of this installation"
        ) from None
    if options.layout is not None or options.k is not None:
        raise FourierCircuitsError(
            f"--layout and --k apply to two-layer MLPs; {str(path)!r} is a TransformerLens "
            "state dict (its p and k come from its config and shapes)"
        )
    data, rows, failed = module.inspect_lens(state, out_dir=out_dir, claims=options.claims)
    data = {"file": str(path), "format": "lens", **data}
    return Inspected(data, [("file", str(path)), *rows], list(failed), None)


def measure(
    net: PolyNet, path: Path, *, kind: str, extra: dict[str, Any], options: Options
) -> Inspected:
    """theory.summarise of the network, the claims that apply (inspect_claims) checked."""
    meta = extra.get("file_metadata", net.meta) if kind != "npz" else net.meta
    regime, reason = training_regime(meta)
    chosen = options.claims
    names = mlp_claims(chosen) if chosen is not None else default_claims(kind, regime)
    ratio = options.min_ratio
    if ratio is None:
        strict = kind == "npz" or regime == "max_margin"
        ratio = DEFAULT_MIN_RATIO if strict else MARGIN_RATIO_CLAIM
    summary = summarise(net)
    data: dict[str, Any] = {"file": str(path), **summary.as_dict(min_ratio=ratio)}
    holds, failures = checked_verdict(summary, names, min_ratio=ratio)
    data["claims"], data["failed"] = holds, failures
    if kind != "npz" or options.claims is not None:  # an .npz's object stays summarise's own
        data["checked"] = list(names)
        data["format"] = kind
        data["training"] = {
            "regime": regime,
            "reason": reason,
            "note": regime_note(regime, reason, names),
        }
    data.update(extra)
    rows = [("file", str(path)), *summary_rows(data)]
    if not net.task.prime:
        rows.append(("note", f"p={net.p} is not prime: outside the paper's assumption"))
    return Inspected(data, rows, failures, net)


#: Keys the table shows in their own rows (or not at all).
_OWN_ROWS = {
    "file",
    "claims",
    "failed",
    "neurons",
    "meta",
    "neurons_per_frequency",
    "checked",
    "training",
    "notes",
    "file_metadata",
    "skipped_tensors",
    "keys_used",
}


def summary_rows(data: dict[str, Any]) -> list[tuple[str, str]]:
    """The human table of one network's JSON object: one (key, value) per scalar, the notes,
    the training regime, then one row per claim (checked or only reported)."""
    rows = [(key, fmt(value)) for key, value in data.items() if key not in _OWN_ROWS]
    counts = data["neurons_per_frequency"]
    rows.append(
        (
            "neurons per frequency",
            "  ".join(f"{z}:{c}" for z, c in enumerate(counts) if c) + "  (0 = constant)",
        )
    )
    if data.get("keys_used"):
        rows.append(("keys used", ", ".join(data["keys_used"])))
    rows.extend(("note", note) for note in data.get("notes", []))
    if "training" in data and data.get("format") != "npz":
        rows.append(("training", data["training"]["note"]))
    checked = set(data.get("checked", data["claims"]))
    for name, held in data["claims"].items():
        verdict = "holds" if held else "FAILS"
        if name not in checked:
            verdict = f"{'holds' if held else 'fails'} (reported, not checked)"
        rows.append((f"claim {name}", verdict))
    return rows
