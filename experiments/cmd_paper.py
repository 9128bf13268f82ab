"""`fourier-circuits paper [--experiment NAME ...] [--out DIR] [--device cpu|cuda] [--resume]
[--quick] [--json] [--force]`: the experiments of arXiv 2402.09469 at the paper's own settings.

Each experiment (experiments.paper; names in experiments.paper.plan) trains and measures, and gets
a section of DIR/report.md with the paper's claim, its settings, the numbers, the figures
(DIR/figures/*.png) and a verdict; DIR/results.json holds every number, the seed and the
versions, DIR/<name>/ its trained network and last checkpoint. Before anything runs, every
experiment's memory and time are estimated and a job that cannot fit is refused (exit 2).

Interrupting and resuming. The run works in a fixed hidden sibling of DIR, `.DIR.partial`, which
an interrupt (Ctrl-C, SIGTERM) leaves in place: each experiment's folder there holds its last
checkpoint (every few hundred steps) or, once finished, its result.json. `--resume` continues it:
finished experiments are not run again, an unfinished one continues from its checkpoint, and the
numbers equal an uninterrupted run's with the same seed (tests/test_paper.py checks it). The
settings, seed, device, --quick and experiment list must be those of the interrupted run (saved in
.DIR.partial/plan.json). Without --resume an existing .DIR.partial is refused (pass --resume, or
--force to discard it and start again). When every experiment is done, DIR is published
atomically as `verify` publishes (experiments.outputs.Staged) and .DIR.partial removed.
Exit 0 when every experiment reproduced the paper's claim, 1 naming those that did not.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import shutil
import stat
import sys
import time
from pathlib import Path
from typing import Any

import fourier_circuits.theory.budget as budget
from fourier_circuits.experiments.outcome import Outcome
from fourier_circuits.experiments.outputs import (
    Staged,
    add_force_argument,
    check_out,
    json_file,
    write_atomic,
)
from fourier_circuits.experiments.paper import plan
from fourier_circuits.experiments.paper.common import (
    REPRODUCED,
    Experiment,
    ExperimentResult,
    RunContext,
)
from fourier_circuits.experiments.paper.report import markdown, results
from fourier_circuits.experiments.progress import duration
from fourier_circuits.experiments.provenance import versions
from fourier_circuits.theory import FourierCircuitsError, jsonable
from fourier_circuits.theory._validation import check_seed

NAME = "paper"
#: Test hook: interrupt each experiment after it saves a checkpoint at this step or later.
STOP_AFTER_ENV = "FOURIER_CIRCUITS_PAPER_STOP_AFTER"
PLAN_FILE = "plan.json"
RESULT_FILE = "result.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--experiment",
        action="append",
        metavar="NAME",
        help=f"run this experiment (repeatable; default all): {', '.join(plan.NAMES)}",
    )
    parser.add_argument(
        "--out", metavar="DIR", default="paper-report", help="report directory (paper-report)"
    )
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="cpu or cuda")
    parser.add_argument(
        "--resume", action="store_true", help="continue the interrupted run in .DIR.partial"
    )
    parser.add_argument("--quick", action="store_true", help="scaled-down problems (seconds)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every run (0)")
    add_force_argument(parser)


def partial_dir(target: Path) -> Path:
    """The working directory of a run publishing `target`: .NAME.partial beside it."""
    absolute = Path(os.path.abspath(target))
    return absolute.parent / f".{absolute.name}.partial"


def _require_dir_or_nothing(path: Path) -> bool:
    """Whether path is a directory (False: nothing there); anything else is refused."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    if not stat.S_ISDIR(st.st_mode):
        raise FourierCircuitsError(
            f"the working directory {str(path)!r} of this run exists and is not a directory; "
            "remove it"
        )
    return True


def _work_dir(args: argparse.Namespace, target: Path, stamp: dict[str, Any]) -> Path:
    """The working directory, checked against --resume and --force (module docstring)."""
    work = partial_dir(target)
    exists = _require_dir_or_nothing(work)
    if args.resume:
        if not exists:
            raise FourierCircuitsError(
                f"--resume: there is no interrupted run of --out {str(target)!r} (no {work.name} "
                "beside it); run without --resume"
            )
        saved = _read_plan(work)
        differ = sorted(key for key in stamp if saved.get(key) != stamp[key])
        if differ:
            raise FourierCircuitsError(
                f"--resume: the interrupted run in {str(work)!r} had other {', '.join(differ)}; "
                "resume it with the same options, or pass --force (without --resume) to start "
                "again"
            )
        return work
    if exists:
        if not args.force:
            raise FourierCircuitsError(
                f"an interrupted run of --out {str(target)!r} is in {str(work)!r}; pass --resume "
                "to continue it, or --force to discard it and start again"
            )
        shutil.rmtree(work)
    work.mkdir()
    write_atomic(work / PLAN_FILE, json_file(stamp))
    return work


def _read_plan(work: Path) -> dict[str, Any]:
    try:
        saved = json.loads((work / PLAN_FILE).read_text())
    except (OSError, ValueError) as err:
        raise FourierCircuitsError(
            f"--resume: cannot read {str(work / PLAN_FILE)!r} ({type(err).__name__}); pass "
            "--force (without --resume) to start again"
        ) from None
    if not isinstance(saved, dict):
        raise FourierCircuitsError(f"--resume: {str(work / PLAN_FILE)!r} holds no plan")
    return saved


def _require_fit(chosen: list[Experiment], quick: bool, device: str) -> dict[str, Any]:
    """Refuse, before anything runs, an experiment whose memory estimate exceeds the machine's
    limit or a command whose time estimate exceeds theory.budget.MAX_WORK_HOURS."""
    estimates = {}
    for e in chosen:
        try:
            estimates[e.name] = e.estimate(quick, device)
        except FourierCircuitsError as err:  # a config refused by theory.budget when made
            raise FourierCircuitsError(f"{e.name}: {err}") from None
    limit = budget.memory_limit()
    for name, est in estimates.items():
        if est.bytes > limit:
            raise FourierCircuitsError(
                f"{name} would need about {budget.format_bytes(est.bytes)} of memory, more than "
                f"the limit {budget.format_bytes(limit)} of this machine; choose other "
                "--experiment names"
            )
    total = sum(est.seconds for est in estimates.values())
    if total > budget.MAX_WORK_HOURS * 3600:
        raise FourierCircuitsError(
            f"the experiments would take up to about {duration(total)} here, more than the limit "
            f"{budget.MAX_WORK_HOURS:g} h; choose fewer --experiment names or --quick"
        )
    return {name: {"bytes": e.bytes, "seconds": e.seconds} for name, e in estimates.items()}


def _command_line(args: argparse.Namespace, names: list[str]) -> str:
    argv = ["fourier-circuits", "paper", "--out", str(args.out), "--device", args.device]
    for name in names if args.experiment else []:
        argv += ["--experiment", name]
    argv += ["--seed", str(args.seed)] + ["--quick"] * args.quick
    return shlex.join(argv)


def _stop_after() -> int | None:
    raw = os.environ.get(STOP_AFTER_ENV)
    if raw is None:
        return None
    if not raw.isdigit():
        raise FourierCircuitsError(f"{STOP_AFTER_ENV}={raw!r} must be a step number >= 0")
    return int(raw)


def _run_one(experiment: Experiment, work: Path, args: argparse.Namespace) -> ExperimentResult:
    """The experiment's finished result (kept from an earlier session), or run it now."""
    folder = work / experiment.name
    done = folder / RESULT_FILE
    if done.is_file():
        return ExperimentResult.from_dict(json.loads(done.read_text()))
    folder.mkdir(exist_ok=True)
    (work / "figures").mkdir(exist_ok=True)
    context = RunContext(
        work_dir=folder,
        figures_dir=work / "figures",
        device=args.device,
        quick=args.quick,
        resume=args.resume,
        seed=args.seed,
        stop_after=_stop_after(),
    )
    found = experiment.run(context)
    write_atomic(done, json_file(found.as_dict(), indent=2))
    return found


def _publish(
    work: Path, target: Path, force: bool, found: list[ExperimentResult], meta: dict[str, Any]
) -> None:
    """DIR from the working directory, atomically; then the working directory goes."""
    with Staged(out=target, force=force) as stage:
        assert stage.dir is not None
        for entry in sorted(work.iterdir()):
            if entry.name == PLAN_FILE:
                continue
            copy = shutil.copytree if entry.is_dir() else shutil.copy2
            copy(entry, stage.dir / entry.name)
        write_atomic(stage.dir / "report.md", markdown(found, meta).encode())
        write_atomic(stage.dir / "results.json", json_file(results(found, meta), indent=2))
    shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace) -> Outcome:
    names = plan.validate_names(args.experiment)
    check_seed(args.seed)
    target = check_out(args.out, force=args.force)
    if args.device == "cuda":
        from fourier_circuits.constructions.training.model import resolve_device

        resolve_device("cuda")
    chosen = plan.experiments(names)
    estimates = _require_fit(chosen, args.quick, args.device)
    stamp = {
        "experiments": names,
        "quick": args.quick,
        "seed": args.seed,
        "device": args.device,
        "settings": {e.name: e.settings(args.quick) for e in chosen},
    }
    work = _work_dir(args, target, stamp)
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    start = time.perf_counter()
    found: list[ExperimentResult] = []
    try:
        for i, experiment in enumerate(chosen, 1):
            t0 = time.perf_counter()
            result = _run_one(experiment, work, args)
            found.append(result)
            print(
                f"paper [{i}/{len(chosen)}] {experiment.name}: {result.verdict} "
                f"({time.perf_counter() - t0:.1f} s)",
                file=sys.stderr,
                flush=True,
            )
    except KeyboardInterrupt:
        print(
            f"paper: the run so far is in {str(work)!r}; continue it with "
            f"`{_command_line(args, names)} --resume`",
            file=sys.stderr,
            flush=True,
        )
        raise
    meta = {
        "command": _command_line(args, names),
        "quick": args.quick,
        "seed": args.seed,
        "device": args.device,
        "started": started,
        "seconds": time.perf_counter() - start,
        "estimates": estimates,
        "versions": versions(),
    }
    _publish(work, target, args.force, found, meta)
    entries = []
    for r in found:
        entry = r.as_dict()
        if "network" in entry:
            entry["network"] = str(target / entry["network"])
        entries.append(entry)
    data = jsonable(
        {"experiments": entries, "out": str(target), "report": str(target / "report.md")}
    )
    rows = [
        (
            r.name,
            f"{r.verdict}  ({r.steps} steps, {duration(r.seconds)}, test accuracy "
            f"{r.test_accuracy:.4f})",
        )
        for r in found
    ]
    rows += [("report", str(target / "report.md"))]
    failures = [
        f"{r.name}: {r.verdict} ({r.verdict_reason})" for r in found if r.verdict != REPRODUCED
    ]
    return Outcome(data, rows, failures)
