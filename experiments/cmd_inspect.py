"""`fourier-circuits inspect FILE... [--format F] [--layout L] [--k K] [--claims LIST]
[--min-ratio R] [--out DIR [--force]]`.

Checks saved networks against Theorem 4.1 of arXiv 2402.09469, by brute force over all of D_p
and one DFT of the weights (theory.summarise). FILE is
- an .npz network file (DESIGN.md: U (m, k, p), W (m, p), p, k, optional meta; any network of
  eq. 2, yours included);
- a PyTorch state dict (.pt/.pth, torch.load with weights_only: never unpickling anything but
  tensors, dicts and numbers) or a .safetensors file of a two-layer MLP on one-hot inputs
  (d-doshi/Grokking's fcn, nn.Sequential: constructions.foreign.mlp_from_state; --layout for the
  columns, --k for the power, biases folded in exactly with a note on the norm);
- a TransformerLens state dict (experiments.inspect_lens);
- a directory: all its network files, in natural order; several FILEs: one table, and one JSON
  object {"files": [...], "failed": [...], "series": ...}. Files that are one model at several
  steps (a checkpoint series) also give the measurements against the step (--out: series.png).
The format comes from the file's bytes (--format forces one).

Facts (accuracy over D_p, Fourier structure, coverage, margin ratio) are reported apart from the
claims. Checked (exit 0 when all hold, 1 naming each that fails): for an .npz every claim of the
max-margin verdict (margin_ratio >= R, default 1 - MARGIN_RTOL; pass --min-ratio 0.99 for a
network from `train`); for a foreign file the claims that apply to how it was trained
(experiments.inspect_claims: margin claims only for margin-maximising training, else the Fourier
claims; the others reported, not checked). --claims chooses (names of theory.claims, groups
fourier, margin, all, none).
--out DIR: DIR/inspect.json and, for one file, its figures (power_heatmap.png, neuron_cosines.png,
neurons_per_frequency.png), for a series series.png; built in a hidden sibling and renamed into
place when complete (an existing DIR only with --force).
Exit 2, one line on stderr: a missing, unreadable, corrupt or mismatched file, a pickle that
would need more than tensors (a code-running payload is refused unread; a whole nn.Module is
refused with how to save its state dict), a state dict that is not a two-layer MLP (an extra
layer, shapes that disagree), a directory without network files, a zero network, a D_p too large
to enumerate, an unwritable --out.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from fourier_circuits.constructions.foreign import LAYOUTS
from fourier_circuits.experiments.inspect_claims import parse_claims
from fourier_circuits.experiments.inspect_files import (
    network_files,
    save_series_figure,
    series_of,
)
from fourier_circuits.experiments.inspect_network import (
    FORMAT_CHOICES,
    Inspected,
    Options,
    inspect_file,
)
from fourier_circuits.experiments.outcome import Outcome, fmt
from fourier_circuits.experiments.outputs import (
    Staged,
    add_force_argument,
    check_out,
    json_file,
    require_outside,
    write_atomic,
)
from fourier_circuits.theory import FourierCircuitsError, validate_min_ratio
from fourier_circuits.theory.summary import DEFAULT_MIN_RATIO

NAME = "inspect"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="network files (.npz, .pt/.pth, .safetensors) or directories of them",
    )
    parser.add_argument(
        "--format", choices=FORMAT_CHOICES, default="auto", help="default: from the file's bytes"
    )
    parser.add_argument(
        "--layout",
        choices=LAYOUTS,
        help="an MLP's input columns: j p + a (concatenated, the default) or a k + j",
    )
    parser.add_argument("--k", type=int, metavar="K", help="an MLP's activation power")
    parser.add_argument(
        "--claims",
        metavar="LIST",
        help="the claims to check, comma-separated: claim names or fourier, margin, all, none "
        "(default: those that apply to how the network was trained)",
    )
    parser.add_argument(
        "--min-ratio",
        type=float,
        default=None,
        metavar="R",
        help=f"claim margin_ratio >= R (default {DEFAULT_MIN_RATIO!r}: gamma* itself, for an "
        "npz or a construction; 0.99 for a trained foreign network)",
    )
    parser.add_argument("--out", metavar="DIR", help="write inspect.json and figures")
    add_force_argument(parser)


def run(args: argparse.Namespace) -> Outcome:
    options = Options(
        format=args.format,
        layout=args.layout,
        k=args.k,
        claims=parse_claims(args.claims),
        min_ratio=None if args.min_ratio is None else validate_min_ratio(args.min_ratio),
    )
    files = network_files(args.files)
    if (args.layout is not None or args.k is not None) and all(
        path.suffix.lower() == ".npz" for path in files
    ):
        raise FourierCircuitsError(
            "--layout and --k apply to PyTorch and safetensors MLPs; .npz network files say "
            "their own layout and k"
        )
    out = check_out(args.out, force=args.force) if args.out is not None else None
    if out is not None:
        for path in files:
            require_outside(path, out, what="FILE")
    with Staged(out=out, force=args.force) as stage:
        if len(files) == 1:
            outcome = _one(files[0], options, stage.dir, out)
        else:
            outcome = _many(files, options, stage.dir, out)
        if stage.dir is not None:
            write_atomic(stage.dir / "inspect.json", json_file(outcome.data))
    return outcome


def _one(path: Path, options: Options, stage_dir: Path | None, out: Path | None) -> Outcome:
    result = inspect_file(path, options, out_dir=stage_dir)
    data, rows = result.data, list(result.rows)
    if stage_dir is not None and out is not None:
        if result.network is not None:
            from fourier_circuits.experiments.plots import save_network_plots  # matplotlib

            figures = save_network_plots(result.network, stage_dir)
            data["figures"] = [str(out / p.relative_to(stage_dir)) for p in figures]
        data["out"] = str(out)
        rows.append(("out", str(out)))
    return Outcome(data, rows, list(result.failures))


def _brief(result: Inspected) -> str:
    """One table cell: the facts, then the verdict on the checked claims."""
    data = result.data
    shown = [
        (key, data[key])
        for key in (
            "format",
            "p",
            "k",
            "width",
            "accuracy",
            "margin_ratio",
            "max_normalized_power_median",
            "frequencies_covered",
            "neuron_single_frequency_fraction",
        )
        if data.get(key) is not None
    ]
    facts = "  ".join(f"{key}={fmt(value)}" for key, value in shown)
    failed = [name for name, held in data.get("claims", {}).items() if not held]
    checked = [name for name in failed if name in data.get("checked", failed)]
    verdict = "FAILS " + ", ".join(checked) if result.failures else "claims hold"
    return f"{facts}  | {verdict}"


def _many(files: list[Path], options: Options, stage_dir: Path | None, out: Path | None) -> Outcome:
    results = [inspect_file(path, options, out_dir=None) for path in files]
    entries = [result.data for result in results]
    failures = [
        f"{result.data['file']}: {failure}" for result in results for failure in result.failures
    ]
    series = series_of(entries, files)
    data: dict[str, Any] = {
        "files": entries,
        "n_files": len(entries),
        "failed": failures,
        "series": series,
    }
    rows = [(str(path), _brief(result)) for path, result in zip(files, results, strict=True)]
    if series is not None:
        steps = series["steps"]
        rows.append(("series", f"{len(steps)} steps, {steps[0]} .. {steps[-1]}"))
    if stage_dir is not None and out is not None:
        if series is not None:
            figure = save_series_figure(series, stage_dir / "series.png")
            data["figures"] = [str(out / figure.relative_to(stage_dir))]
        data["out"] = str(out)
        rows.append(("out", str(out)))
    return Outcome(data, rows, failures)
