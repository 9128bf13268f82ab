"""`fourier-circuits transformer --p P --k K [--seed S] [--paper] [--out DIR] [--save-lens F.pt]`.

Trains the one-layer Transformer of Section 5 of arXiv 2402.09469 (constructions.transformer) on
the tokens a_1 ... a_k '=' with a random half of the p^k examples, and analyses its attention in
Fourier space (float64): for each head the query-key matrix between the number tokens, its 2-D
DFT, the share of the non-DC power in the strongest conjugate classes
(`attention_fourier_concentration`, pooled over heads by power) and which classes those are,
beside the frequencies the embeddings use and the level i.i.d. Gaussian noise reaches.
Checked claim: test accuracy >= 0.99 (TEST_ACCURACY_CLAIM). The concentration is reported, not
checked: the paper shows it but states no threshold.
Exit 0: the claim held; 1: it failed (named); 2: bad input, or training diverged or stalled (one
line on stderr). Progress goes to stderr: a bar on a terminal, else a line every few seconds.
--save-lens F.pt writes the trained model as a TransformerLens checkpoint, {"model": state dict,
"config": HookedTransformerConfig's fields, "fourier_circuits": provenance} with torch.save
(constructions.foreign.lens_state_from_transformer: the architecture maps exactly), which
`HookedTransformer(HookedTransformerConfig(**c["config"])).load_state_dict(c["model"])` loads
and `inspect F.pt` reads back.
The measurements are constructions.transformer.report (module reporting: a TransformerReport whose
as_dict() is the JSON object); this module parses the flags, trains, prints and writes --out.
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from fourier_circuits.constructions.transformer import (
    NOISE_SAMPLES,
    TEST_ACCURACY_CLAIM,
    AttentionAnalysis,
    TransformerResult,
    report,
)
from fourier_circuits.experiments.outcome import Outcome, fmt
from fourier_circuits.experiments.outputs import (
    Staged,
    add_force_argument,
    check_out,
    check_save,
    json_file,
    write_atomic,
)
from fourier_circuits.experiments.plots_transformer import save_transformer_plots
from fourier_circuits.experiments.provenance import provenance
from fourier_circuits.experiments.transformer_args import (
    add_model_arguments,
    model_config,
    run_training,
)
from fourier_circuits.theory import TOP_FREQUENCIES, FourierCircuitsError
from fourier_circuits.theory.serialise import jsonable

NAME = "transformer"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--p", type=int, required=True, help="odd modulus p >= 3")
    parser.add_argument("--k", type=int, required=True, help="number of summands k >= 2")
    parser.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    add_model_arguments(parser)
    parser.add_argument(
        "--top", type=int, default=TOP_FREQUENCIES, help="2-D frequency classes counted (4)"
    )
    parser.add_argument("--out", metavar="DIR", help="write plots, history.json, result.json")
    parser.add_argument(
        "--save-lens",
        metavar="F.pt",
        help="save the model as a TransformerLens checkpoint (.pt or .pth)",
    )
    add_force_argument(parser)


def validate(args: argparse.Namespace) -> None:
    """The checks run makes before any work (the config with its resource estimate, --top);
    trains nothing and writes nothing. `sweep` checks each cell with it before any runs."""
    config = model_config(args, args.p, args.k, args.seed)
    classes = (config.p**2 - 1) // 2
    if not 1 <= args.top <= classes:
        raise FourierCircuitsError(
            f"--top {args.top} must lie in 1..{classes} (the non-DC conjugate classes of "
            f"p={config.p})"
        )


def run(args: argparse.Namespace) -> Outcome:
    validate(args)
    config = model_config(args, args.p, args.k, args.seed)
    n_top = args.top
    out = check_out(args.out, force=args.force) if args.out is not None else None
    save = None
    if args.save_lens is not None:
        if Path(args.save_lens).suffix.lower() not in (".pt", ".pth"):
            raise FourierCircuitsError(
                f"--save-lens {args.save_lens!r} must end in .pt or .pth (a torch.save file)"
            )
        save = check_save(args.save_lens, force=args.force, what="--save-lens")
    with Staged(save=save, out=out, force=args.force) as stage:
        result = run_training(config)
        measured = report(result, n_top=n_top, noise_samples=NOISE_SAMPLES)
        data = measured.as_dict()
        failures = list(measured.failures)
        if stage.dir is not None:
            meta = provenance(command=NAME, seed=config.seed, config=config.as_dict())
            write_out(stage.dir, result, measured.analysis, data, meta)
        if stage.file is not None:
            meta = provenance(command=NAME, seed=config.seed, config=config.as_dict())
            write_atomic(stage.file, lens_checkpoint(result, meta), action="save to")
    if out is not None:
        data["out"] = str(out)
    if save is not None:
        data["save_lens"] = str(save)
    skip = (
        "config",
        "claims",
        "head_top_frequencies",
        "embedding_power_shares",
        "test_errors_listed",
    )
    rows = [(key, _cell(value)) for key, value in data.items() if key not in skip]
    rows.append(("claims checked", f"test_accuracy >= {TEST_ACCURACY_CLAIM}"))
    return Outcome(data, rows, failures)


def _cell(value: Any) -> str:
    if isinstance(value, list) and value and isinstance(value[0], list):
        return ", ".join("(" + ", ".join(str(v) for v in pair) + ")" for pair in value)
    return fmt(value)


def write_out(
    out: Path,
    result: TransformerResult,
    analysis: AttentionAnalysis,
    data: dict[str, Any],
    meta: dict[str, Any],
) -> None:
    """DIR/history.json (provenance, config, every measurement), DIR/result.json (the JSON object
    of --json), DIR/params.npz (final float64 parameters) and the figures of
    experiments.plots_transformer, each written to a temporary name and renamed."""
    history = {
        "provenance": meta,
        "config": result.config.as_dict(),
        "stop_reason": result.stop_reason,
        "history": [record.as_dict() for record in result.history],
    }
    write_atomic(out / "history.json", json_file(history))
    write_atomic(out / "result.json", json_file(data))
    buffer = io.BytesIO()
    arrays: dict[str, Any] = {**result.params, "meta": np.array(json.dumps(jsonable(meta)))}
    np.savez(buffer, **arrays)
    write_atomic(out / "params.npz", buffer.getvalue())
    save_transformer_plots(result, analysis, out)


def lens_checkpoint(result: TransformerResult, meta: dict[str, Any]) -> bytes:
    """The bytes of the TransformerLens checkpoint of --save-lens (module docstring)."""
    import torch

    from fourier_circuits.constructions.foreign import lens_state_from_transformer

    export = lens_state_from_transformer(result.params)
    model = {name: torch.from_numpy(np.array(a)) for name, a in export.tensors().items()}
    config = {**export.config, "dtype": torch.float64}  # HookedTransformerConfig wants a dtype
    buffer = io.BytesIO()
    torch.save({"model": model, "config": config, "fourier_circuits": jsonable(meta)}, buffer)
    return buffer.getvalue()
