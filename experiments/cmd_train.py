"""`fourier-circuits train --p P --k K [--width M] [--seed S] [--optimizer O] [--steps N]
[--save F.npz] [--out DIR] [--force]`.

Trains the network of eq. 2 of arXiv 2402.09469 (constructions.trained) and checks what Theorem
4.1 says training should find, measuring the final weights with the theory module:
- the normalized margin over all of D_p is at least MARGIN_RATIO_CLAIM = 0.99 of gamma* (i);
- the median maximum normalized power of the active neurons is at least 0.95 (ii);
- every frequency 1..(p-1)/2 is the dominant frequency of some active neuron (iii).
It prints them beside the paper's analytic construction (constructions.construct, design paper).
By default it trains on all of D_p (the theorem's setting) and stops as soon as the claims hold;
`test_accuracy` is then null (there is no held-out part; `test_note` says so). With
--train-fraction F < 1 it trains on a random F of D_p and reports accuracy on the rest; the margin
claim is still checked over all of D_p, so it then also demands generalisation.
Exit 0: the claims held; 1: one failed (named); 2: bad input, or training diverged or stalled
(one line on stderr). Progress goes to stderr: a bar on a terminal, else a line every few
seconds (experiments.progress), and a note if the run clearly will not reach its target.
--save and --out are checked before training and published together when the run is complete
(experiments.outputs.Staged: an existing target only with --force; nothing on any failure).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import torch

from fourier_circuits.constructions import construct
from fourier_circuits.constructions.trained import (
    COVERAGE_CLAIM,
    DEVICES,
    DTYPES,
    MARGIN_RATIO_CLAIM,
    OPTIMIZERS,
    SINGLE_FREQUENCY_CLAIM,
    HistoryRecord,
    TrainConfig,
    TrainingError,
    TrainResult,
    train,
)
from fourier_circuits.constructions.training.forecast import forecast
from fourier_circuits.experiments.arguments import refuse_given
from fourier_circuits.experiments.outcome import Outcome, fmt
from fourier_circuits.experiments.outputs import (
    Staged,
    add_force_argument,
    check_out,
    check_save,
    json_file,
    write_atomic,
)
from fourier_circuits.experiments.plots import ANALYTIC_MAX_EXAMPLES, save_training_plots
from fourier_circuits.experiments.progress import StepProgress
from fourier_circuits.experiments.provenance import provenance
from fourier_circuits.theory import (
    FourierCircuitsError,
    PolyNet,
    fourier_summary,
    gamma_star,
    margin_report,
    neuron_spectra,
)
from fourier_circuits.theory.serialise import jsonable

NAME = "train"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--p", type=int, required=True, help="odd modulus p >= 3")
    parser.add_argument("--k", type=int, required=True, help="number of summands k >= 2")
    parser.add_argument("--width", type=int, help="neurons m (default: 2^(2k-2)(p-1))")
    parser.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    parser.add_argument(
        "--optimizer", choices=OPTIMIZERS, default="margin", help="default: margin (fastest)"
    )
    parser.add_argument("--steps", type=int, help="most optimiser steps (default 20000)")
    parser.add_argument("--lr", type=float, help="learning rate (default: the optimizer's)")
    parser.add_argument("--weight-decay", type=float, help="lambda (gd, adamw)")
    parser.add_argument("--reg-power", type=float, help="r of lambda ||theta||^r (gd; k+1)")
    parser.add_argument("--temperature", type=float, help="margin: logit gap T (default 20)")
    parser.add_argument("--init-scale", type=float, default=1.0, help="initial vector norms")
    parser.add_argument("--batch-size", type=int, help="mini-batch size (default: full batch)")
    parser.add_argument(
        "--train-fraction", type=float, default=1.0, help="share of D_p trained on (default 1)"
    )
    parser.add_argument("--eval-every", type=int, default=50, help="measure every N steps")
    parser.add_argument(
        "--no-early-stop",
        action="store_true",
        help="run every step instead of stopping once the claims hold",
    )
    parser.add_argument("--device", choices=DEVICES, default="cpu", help="default: cpu")
    parser.add_argument("--dtype", choices=DTYPES, default="float64", help="default: float64")
    parser.add_argument("--threads", type=int, help="torch threads (default: 1 if small)")
    parser.add_argument(
        "--save",
        metavar="F.npz",
        help="save the trained network (.npz; .pt, .pth or .safetensors: the d-doshi fcn "
        "state dict)",
    )
    parser.add_argument("--out", metavar="DIR", help="write plots, history.json, result.json")
    add_force_argument(parser)


def _config(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(
        p=args.p,
        k=args.k,
        width=args.width,
        optimizer=args.optimizer,
        steps=args.steps,
        seed=args.seed,
        lr=args.lr,
        weight_decay=args.weight_decay,
        reg_power=args.reg_power,
        temperature=TrainConfig.temperature if args.temperature is None else args.temperature,
        init_scale=args.init_scale,
        batch_size=args.batch_size,
        train_fraction=args.train_fraction,
        eval_every=args.eval_every,
        target_ratio=None if args.no_early_stop else MARGIN_RATIO_CLAIM,
        device=args.device,
        dtype=args.dtype,
        threads=args.threads,
    )


def _network_stats(net: PolyNet) -> dict[str, Any]:
    """The side-by-side statistics of one network, by the theory module."""
    report = margin_report(net, workers=1)
    spectra = neuron_spectra(net)
    summary = fourier_summary(net, spectra=spectra)
    active = spectra.active
    return {
        "width": net.m,
        "n_active": summary.n_active,
        "normalized_margin": report.normalized_margin,
        "margin_ratio": report.margin_ratio,
        "all_correct": report.all_correct,
        "all_on_margin": report.all_on_margin,
        "wrong_labels_tied": report.wrong_labels_tied,
        "frequencies_covered": summary.frequencies_covered,
        "neurons_per_frequency": list(summary.neurons_per_frequency),
        "max_normalized_power_median": summary.max_normalized_power_median,
        "max_normalized_power_min": summary.max_normalized_power_min,
        "max_phase_residual": summary.max_phase_residual,
        "min_amplitude_balance": summary.min_amplitude_balance,
        "neuron_norm_max_over_min": float(
            spectra.norms[active].max() / spectra.norms[active].min()
        ),
    }


def _comparison(result: TrainResult) -> tuple[dict[str, Any], PolyNet | None]:
    cfg = result.config
    if cfg.p**cfg.k > ANALYTIC_MAX_EXAMPLES:
        return {"trained": _network_stats(result.net), "analytic": None}, None
    analytic = construct(cfg.p, cfg.k, "paper")
    return {"trained": _network_stats(result.net), "analytic": _network_stats(analytic)}, analytic


def _progress(cfg: TrainConfig) -> tuple[StepProgress, Any]:
    """Progress on stderr (experiments.progress: a bar on a terminal, log lines elsewhere) and
    the training callback feeding it; once, a note when the run clearly will not reach its
    target within its steps (constructions.training.forecast)."""
    total = cfg.steps or 0
    progress = StepProgress(total, "train")
    steps: list[int] = []
    ratios: list[float] = []
    warned = False

    def update(record: HistoryRecord, _total: int) -> None:
        nonlocal warned
        steps.append(record.step)
        ratios.append(record.margin_ratio)
        loss = "-" if math.isnan(record.loss) else f"{record.loss:.5g}"  # NaN at step 0
        progress.update(record.step, margin_ratio=f"{record.margin_ratio:.4f}", loss=loss)
        target = cfg.target_ratio
        if target is not None and not warned:
            seen = forecast(steps, ratios, total_steps=total, target=target)
            if seen is not None and seen.clearly_short:
                progress.note(seen.message())
                warned = True

    return progress, update


#: The flags that only some optimisers read (docs/training.md): elsewhere they would be ignored.
ONLY_FOR = {"--temperature": ("margin",), "--reg-power": ("gd",), "--weight-decay": ("gd", "adamw")}


def validate(args: argparse.Namespace) -> None:
    """The checks run makes before any work (flags the optimiser does not read, every field of
    the config and its resource estimate); trains nothing and writes nothing. `sweep` checks
    each cell with it before any runs."""
    for flag, optimizers in ONLY_FOR.items():
        if args.optimizer not in optimizers:
            refuse_given(
                args,
                (flag,),
                unless=f"with --optimizer {args.optimizer} (only {', '.join(optimizers)})",
            )
    _config(args).resolved()


def run(args: argparse.Namespace) -> Outcome:
    validate(args)  # every field validated before the targets are checked
    config = _config(args)
    save = check_save(args.save, force=args.force) if args.save is not None else None
    out = check_out(args.out, force=args.force) if args.out is not None else None
    with Staged(save=save, out=out, force=args.force) as stage:
        data, result, failures = _train_and_write(config, stage)
    if out is not None:
        data["out"] = str(out)
    if save is not None:
        data["saved"] = str(save)
    comparison = data["comparison"]
    data = jsonable(data)
    rows = [(key, fmt(value)) for key, value in data.items() if key not in ("claims", "comparison")]
    rows.append(
        (
            "claims checked",
            f"margin_ratio >= {MARGIN_RATIO_CLAIM}, frequencies_covered >= {COVERAGE_CLAIM}, "
            f"max_normalized_power_median >= {SINGLE_FREQUENCY_CLAIM}",
        )
    )
    rows += _comparison_rows(comparison)
    if result.stop_reason == "plateau":
        rows.append(("note", "stopped early: the margin ratio stopped growing"))
    return Outcome(data, rows, failures)


def _train_and_write(
    config: TrainConfig, stage: Staged
) -> tuple[dict[str, Any], TrainResult, list[str]]:
    """Train, measure, and write --out's files into stage.dir and the network to stage.file:
    (the JSON object, the run, the failed claims)."""
    cfg = config.resolved()
    torch.manual_seed(cfg.seed)  # training draws only from its own generators; belt and braces
    progress, update = _progress(cfg)
    try:
        result = train(config, callback=update)
    except TrainingError as err:
        raise FourierCircuitsError(
            f"p={cfg.p}, k={cfg.k}, width={cfg.width}, optimizer={cfg.optimizer}, "
            f"seed={cfg.seed}: {err}"
        ) from None
    finally:
        progress.close()
    final = result.final
    comparison, analytic = _comparison(result)
    hit = result.first_reaching(MARGIN_RATIO_CLAIM)
    data: dict[str, Any] = {
        "p": cfg.p,
        "k": cfg.k,
        "width": cfg.width,
        "normalized_margin": final.normalized_margin,
        "gamma_star": gamma_star(cfg.p, cfg.k),
        "margin_ratio": final.margin_ratio,
        "train_accuracy": final.train_accuracy,
        "test_accuracy": final.test_accuracy,
        "max_normalized_power_median": final.max_normalized_power_median,
        "frequencies_covered": final.frequencies_covered,
    }
    if final.test_accuracy is None:
        data["test_note"] = (
            "no held-out examples: trained on all of D_p (the theorem's setting); "
            "use --train-fraction F < 1 for a split"
        )
    data.update(
        {
            "optimizer": cfg.optimizer,
            "seed": cfg.seed,
            "steps": result.steps,
            "stop_reason": result.stop_reason,
            "seconds": result.seconds,
            "threads": result.threads,
            "steps_to_ratio_099": hit.step if hit else None,
            "seconds_to_ratio_099": hit.seconds if hit else None,
            "train_fraction": cfg.train_fraction,
            "train_normalized_margin": final.train_normalized_margin,
            "class_weighted_ratio": final.class_weighted_ratio,
            "condition_3_8": final.condition_3_8,
            "max_normalized_power_min": final.max_normalized_power_min,
            "missing_frequencies": list(final.missing_frequencies),
            "neurons_per_frequency": list(final.neurons_per_frequency),
            "n_active": final.n_active,
            "max_phase_residual": final.max_phase_residual,
            "median_phase_residual": final.median_phase_residual,
            "min_amplitude_balance": final.min_amplitude_balance,
            "median_amplitude_balance": final.median_amplitude_balance,
            "claims": {
                "margin_ratio_at_least": MARGIN_RATIO_CLAIM,
                "frequencies_covered_at_least": COVERAGE_CLAIM,
                "max_normalized_power_median_at_least": SINGLE_FREQUENCY_CLAIM,
            },
            "comparison": comparison,
        }
    )
    failures = result.failures(MARGIN_RATIO_CLAIM)
    meta = provenance(command="train", seed=cfg.seed, config=cfg.as_dict())
    if stage.dir is not None:
        _write_out(stage.dir, result, data, analytic, meta)
    if stage.file is not None:
        from fourier_circuits.experiments.export import save_network  # by --save's suffix

        save_network(result.net.with_meta(**meta), stage.file, target=stage.save)
    return data, result, failures


def _comparison_rows(comparison: dict[str, Any]) -> list[tuple[str, str]]:
    trained, analytic = comparison["trained"], comparison["analytic"]
    rows = []
    for key in trained:
        other = "-" if analytic is None else fmt(analytic[key])
        rows.append((f"trained | analytic: {key}", f"{fmt(trained[key])} | {other}"))
    return rows


def _write_out(
    out: Path,
    result: TrainResult,
    data: dict[str, Any],
    analytic: PolyNet | None,
    meta: dict[str, Any],
) -> None:
    """DIR/history.json (config, provenance, every measurement), DIR/result.json (the JSON
    object printed by --json) and the four figures of experiments.plots, each atomically."""
    history = {
        "provenance": meta,
        "config": result.config.as_dict(),
        "stop_reason": result.stop_reason,
        "history": [record.as_dict() for record in result.history],
    }
    write_atomic(out / "history.json", json_file(history))
    write_atomic(out / "result.json", json_file(data))
    save_training_plots(result, out, analytic=analytic)
