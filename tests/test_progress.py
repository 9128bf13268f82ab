"""Progress on stderr (experiments.progress) and the early verdict (training.forecast)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fourier_circuits.constructions.training.forecast import MIN_RECORDS, forecast
from fourier_circuits.experiments import progress
from fourier_circuits.experiments.progress import StepProgress, duration
from fourier_circuits.theory import FourierCircuitsError


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_log_gets_a_line_every_few_seconds_and_one_at_the_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(progress.SECONDS_ENV, raising=False)
    stream, clock = io.StringIO(), Clock()
    bar = StepProgress(1000, "train", stream=stream, clock=clock)
    for step in range(0, 600, 50):  # one update a second of fake time
        clock.now = step / 50
        bar.update(step, margin_ratio=f"{step / 1000:.4f}")
    clock.now = 12.0
    bar.update(600, margin_ratio="0.6000")
    bar.close()
    lines = stream.getvalue().splitlines()
    # at most one line per LOG_SECONDS (5 s), the first after 5 s: t = 5, 10; and the end
    assert [line.split(",")[0] for line in lines] == [
        "train: step 250/1000",
        "train: step 500/1000",
        "train: step 600/1000",
    ]
    assert "50 steps/s" in lines[0] and "at most 15s left" in lines[0]
    assert "margin_ratio 0.2500" in lines[0]
    assert "left" not in lines[-1] and "12s elapsed" in lines[-1]


def test_the_interval_can_be_set_and_is_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(progress.SECONDS_ENV, "0")
    stream, clock = io.StringIO(), Clock()
    bar = StepProgress(10, "x", stream=stream, clock=clock)
    for step in range(5):
        bar.update(step)
    assert len(stream.getvalue().splitlines()) == 5
    for bad in ("-1", "soon", "nan", "inf"):
        monkeypatch.setenv(progress.SECONDS_ENV, bad)
        with pytest.raises(FourierCircuitsError, match=progress.SECONDS_ENV):
            StepProgress(10, "x", stream=io.StringIO())


def test_a_short_run_prints_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run shorter than LOG_SECONDS is quiet, so an error it ends with is the only line."""
    monkeypatch.delenv(progress.SECONDS_ENV, raising=False)
    stream, clock = io.StringIO(), Clock()
    bar = StepProgress(100, "train", stream=stream, clock=clock)
    for step in range(0, 100, 10):
        clock.now = step / 100
        bar.update(step)
    bar.close()
    assert stream.getvalue() == ""


def test_notes_and_a_closed_log_never_fail_the_run() -> None:
    stream = io.StringIO()
    bar = StepProgress(10, "train", stream=stream)
    bar.note("at step 5 of 10 the margin ratio is 0.5")
    assert stream.getvalue() == "train: at step 5 of 10 the margin ratio is 0.5\n"
    stream.close()
    bar.update(3)  # writing to a closed stream is swallowed
    bar.close()


def test_a_closed_stderr_shows_nothing_and_fails_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Started with stderr closed (`2>&-`), Python's sys.stderr is None: progress is silent."""
    monkeypatch.setenv(progress.SECONDS_ENV, "0")
    monkeypatch.setattr(sys, "stderr", None)
    bar = StepProgress(10, "train")
    bar.update(1, margin_ratio="0.1")
    bar.note("a note")
    bar.close()


def test_a_terminal_gets_a_bar_not_lines() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    bar = StepProgress(100, "train", stream=stream)
    assert bar.bar is not None
    bar.update(50, margin_ratio="0.5")
    bar.close()
    assert "step 50/100" not in stream.getvalue()  # the bar's format, not the log line's


def test_durations_read_naturally() -> None:
    assert [duration(s) for s in (3.2, 245, 7380)] == ["3s", "4m05s", "2h03m"]


SMALL = {
    "train": ["--p", "5", "--k", "2", "--json"],
    "transformer": ["--p", "5", "--k", "2", "--steps", "300", "--json"],
}


@pytest.mark.parametrize("command", ["train", "transformer"])
def test_the_cli_logs_progress_to_a_file(tmp_path: Path, command: str) -> None:
    """stderr redirected to a log file (not a terminal): lines appear, stdout stays one object."""
    log = tmp_path / f"{command}.log"
    with open(log, "w") as err:
        out = subprocess.run(
            [sys.executable, "-m", "fourier_circuits.experiments.cli", command, *SMALL[command]],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env={**os.environ, progress.SECONDS_ENV: "0"},
            timeout=300,
        )
    assert out.returncode in (0, 1), log.read_text()  # 1: a claim failed (a short run)
    assert len(out.stdout.strip().splitlines()) == 1
    lines = log.read_text().splitlines()
    assert len(lines) >= 2 and all(line.startswith(f"{command}: step ") for line in lines)
    assert "steps/s" in lines[-1]


def test_forecast_flags_a_run_that_cannot_reach_its_target() -> None:
    """A flat run at 0.6 with 80% of its steps left is clearly short; a run rising fast enough
    is not (negative control); no verdict before MIN_SHARE of the steps."""
    steps = list(range(0, 5001, 250))
    flat = [0.6 + 1e-6 * s for s in steps]
    verdict = forecast(steps, flat, total_steps=20000, target=0.99)
    assert verdict is not None and verdict.clearly_short
    assert "short of the target 0.99" in verdict.message()
    rising = [0.2 + 0.0001 * s for s in steps]  # reaches 0.99 near step 7900
    verdict = forecast(steps, rising, total_steps=20000, target=0.99)
    assert verdict is not None and not verdict.clearly_short
    assert verdict.projected == 1.0  # capped: gamma* is the maximum
    early = steps[: MIN_RECORDS + 1]
    assert forecast(early, flat[: len(early)], total_steps=20000, target=0.99) is None
    with pytest.raises(ValueError, match="ratios"):
        forecast([1, 2], [0.5], total_steps=10, target=0.99)


def test_forecast_is_not_fooled_by_a_dip() -> None:
    """A run rising fast enough whose last measurement dipped (a birth-death split, as measured at
    (101, 2): 0.71, then -1.0, then 0.42) is not called short: the line goes through the best
    ratio so far. Negative control: the same dip in a flat run is still short."""
    steps = list(range(0, 5001, 250))
    rising = [0.2 + 0.0001 * s for s in steps]
    rising[-1] = -1.0
    verdict = forecast(steps, rising, total_steps=20000, target=0.99)
    assert verdict is not None and not verdict.clearly_short
    assert verdict.ratio == pytest.approx(0.2 + 0.0001 * 4750)
    flat = [0.6 + 1e-6 * s for s in steps]
    flat[-1] = -1.0
    verdict = forecast(steps, flat, total_steps=20000, target=0.99)
    assert verdict is not None and verdict.clearly_short
