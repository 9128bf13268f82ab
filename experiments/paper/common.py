"""What every experiment of `fourier-circuits paper` implements, and what the command gives it.

An experiment is a frozen `Experiment` subclass: its `name`, `kind` and the paper's `claim`; the
`settings(quick)` it runs with (JSON-ready, saved beside the result); an `estimate(quick, device)`
of its peak memory and time, computed before anything runs so the command can refuse a job that
cannot fit (exit 2, with the estimate); and `run(context) -> ExperimentResult`.

The registry (experiments.paper.plan) knows the names, in this order, and the module that
defines each; a module is imported only when one of its experiments is asked for:

    mlp-k4-p47, mlp-k3-p97, mlp-k5-p23                       experiments/paper/mlp.py:
        MLP_EXPERIMENTS: tuple[Experiment, ...]
    transformer-k4-p31, transformer-k3-p61, transformer-k5-p17  experiments/paper/transformer.py:
        TRANSFORMER_EXPERIMENTS: tuple[Experiment, ...]
    grokking                                                  experiments/paper/grokking.py:
        GROKKING_EXPERIMENT: Experiment

`--quick` keeps the names and runs scaled-down problems (`settings(True)` says which).

The report (experiments.paper.report) gives each experiment a section: its claim, its settings,
steps and seconds, the accuracies, then `result.report` (the body: what was measured, a table of
the numbers, what they mean), the figures with their captions, and the verdict with its reason;
the body need not repeat those.

Resuming (`--resume`). The command runs each experiment in its own folder `context.work_dir` of a
working directory that survives an interrupt (a fixed hidden sibling of --out, `.DIR.partial`).
A long run calls `context.save_checkpoint(state, step=step)` every so often, with everything it
needs to go on exactly as if it had never stopped (weights, optimiser state, RNG states, the
step, the history so far); on start it calls `context.load_checkpoint()` and, when that returns a
state, continues from it. Only with the same seed and settings does that end where an
uninterrupted run ends: the command refuses to resume a working directory whose settings or
seed differ. A state holds only what `torch.load(weights_only=True)` reads back: tensors, str,
int, float, bool, None, and lists, tuples and dicts of them (numpy arrays as tensors).
A finished experiment's result is kept in its folder (result.json) and is not run again.

Test hook: `context.stop_after` (from FOURIER_CIRCUITS_PAPER_STOP_AFTER) makes save_checkpoint
raise `StepBudgetReached`, a KeyboardInterrupt, after saving a state at step >= stop_after, so a
test interrupts a run at a known step and resumes it.
"""

from __future__ import annotations

import os
import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from fourier_circuits.experiments.progress import StepProgress
from fourier_circuits.theory import FourierCircuitsError

KINDS = ("mlp", "transformer", "grokking")

REPRODUCED = "reproduced"
PARTLY = "partly reproduced"
NOT_REPRODUCED = "not reproduced"
VERDICTS = (REPRODUCED, PARTLY, NOT_REPRODUCED)

#: The checkpoint file in each experiment's folder (a torch zip, read with weights_only=True).
CHECKPOINT = "checkpoint.pt"


class Estimate(NamedTuple):
    """Peak memory and time of one experiment, before it runs."""

    bytes: int  # peak memory of the process, bytes
    seconds: float  # wall time on the device asked for, seconds (a step budget's worst case)


class StepBudgetReached(KeyboardInterrupt):
    """Raised by RunContext.save_checkpoint once a state at step >= stop_after is saved (the
    test hook): the run stops as an interrupt stops it, leaving its checkpoint behind."""


@dataclass(frozen=True)
class RunContext:
    """What the command gives one experiment's run."""

    work_dir: Path  # this experiment's own folder; may hold the checkpoint of an interrupted run
    figures_dir: Path  # the run's figures/ folder (shared): name files f"{name}_what.png"
    device: str  # "cpu" or "cuda"
    quick: bool  # the scaled-down problems
    resume: bool  # whether a checkpoint found in work_dir may be continued
    seed: int  # the seed of everything random in the run
    stop_after: int | None = None  # test hook: interrupt after saving a state at this step
    make_progress: Callable[[int, str], StepProgress] = field(
        default=lambda total, desc: StepProgress(total, desc)
    )

    @property
    def checkpoint_path(self) -> Path:
        return self.work_dir / CHECKPOINT

    def progress(self, total: int, desc: str) -> StepProgress:
        """A progress display on stderr for `total` steps (close() it at the end)."""
        return self.make_progress(total, desc)

    def figure_path(self, name: str, what: str) -> tuple[Path, str]:
        """Where experiment `name` saves its figure `what` (.png), and that path relative to
        DIR, as ExperimentResult.figures lists it."""
        file = f"{name}_{what}.png"
        return self.figures_dir / file, f"{self.figures_dir.name}/{file}"

    def save_checkpoint(self, state: dict[str, Any], *, step: int) -> None:
        """Write state atomically (a temporary beside it, then os.replace); then, under the test
        hook, stop if step >= stop_after."""
        import torch

        self.work_dir.mkdir(parents=True, exist_ok=True)
        temporary = self.work_dir / f".{CHECKPOINT}.tmp-{secrets.token_hex(8)}"
        try:
            torch.save(state, temporary)
            os.replace(temporary, self.checkpoint_path)
        finally:
            if temporary.exists():
                temporary.unlink()
        if self.stop_after is not None and step >= self.stop_after:
            raise StepBudgetReached(f"stopped after step {step} (test hook)")

    def load_checkpoint(self) -> dict[str, Any] | None:
        """The last saved state, or None when there is none or the run is not resuming."""
        import torch

        if not self.resume or not self.checkpoint_path.is_file():
            return None
        try:
            state = torch.load(self.checkpoint_path, map_location="cpu", weights_only=True)
        except Exception as err:  # a damaged file is bad input to --resume, not a crash
            raise FourierCircuitsError(
                f"--resume: cannot read the checkpoint {str(self.checkpoint_path)!r} "
                f"({type(err).__name__}); rerun with --force to start again"
            ) from None
        if not isinstance(state, dict):
            raise FourierCircuitsError(
                f"--resume: {str(self.checkpoint_path)!r} holds no checkpoint state"
            )
        return state


@dataclass(frozen=True)
class ExperimentResult:
    """What one experiment measured; as_dict() is its entry of --json and results.json."""

    name: str
    kind: str
    claim: str  # the paper's claim, one sentence
    settings: dict[str, Any]  # the settings used (Experiment.settings)
    steps: int  # training steps taken
    seconds: float  # wall time of the run (all sessions of a resumed run together)
    train_accuracy: float
    test_accuracy: float
    measurements: dict[str, Any]  # kind-specific JSON keys, merged into the entry
    verdict: str  # one of VERDICTS
    verdict_reason: str  # why, with the numbers
    figures: tuple[tuple[str, str], ...] = ()  # (path relative to DIR, caption)
    report: str = ""  # the Markdown section body

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r} is not one of {VERDICTS}")
        if self.kind not in KINDS:
            raise ValueError(f"kind {self.kind!r} is not one of {KINDS}")
        clash = set(self.measurements) & set(_FIELDS)
        if clash:
            raise ValueError(f"measurements {sorted(clash)} clash with the result's own keys")

    def as_dict(self) -> dict[str, Any]:
        """The JSON entry: the fields (figures as {path, caption}), the measurements merged in."""
        entry: dict[str, Any] = {key: getattr(self, key) for key in _FIELDS}
        entry["figures"] = [{"path": path, "caption": caption} for path, caption in self.figures]
        return {**entry, **self.measurements}

    @classmethod
    def from_dict(cls, entry: dict[str, Any]) -> ExperimentResult:
        """The result as_dict() wrote (a finished experiment's result.json, on --resume)."""
        known = {key: entry[key] for key in _FIELDS}
        known["figures"] = tuple((f["path"], f["caption"]) for f in entry["figures"])
        measurements = {key: value for key, value in entry.items() if key not in _FIELDS}
        return cls(**known, measurements=measurements)


_FIELDS = (
    "name",
    "kind",
    "claim",
    "settings",
    "steps",
    "seconds",
    "train_accuracy",
    "test_accuracy",
    "verdict",
    "verdict_reason",
    "figures",
    "report",
)


@dataclass(frozen=True)
class Experiment(ABC):
    """One experiment of the paper; subclasses are frozen dataclasses adding their parameters."""

    name: str  # e.g. "mlp-k3-p97"
    kind: str  # "mlp", "transformer" or "grokking"
    claim: str  # the paper's claim, one sentence

    @abstractmethod
    def settings(self, quick: bool) -> dict[str, Any]:
        """The settings the run uses, JSON-ready (for results.json and the resume check)."""

    @abstractmethod
    def estimate(self, quick: bool, device: str) -> Estimate:
        """Peak memory and worst-case time, computed without running anything."""

    @abstractmethod
    def run(self, context: RunContext) -> ExperimentResult:
        """Train and measure; resumes from context.load_checkpoint() when it returns a state."""
