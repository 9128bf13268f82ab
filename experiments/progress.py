"""Progress of a long run on stderr, for a person at a terminal and for a log file alike.

On a terminal: a tqdm bar, redrawn in place. Anywhere else (stderr redirected to a file or a
pipe, as under nohup, SLURM or CI): one plain line at most every LOG_SECONDS, the first after
LOG_SECONDS (so a run shorter than that prints nothing, and an error stays the only line), and
one at the end if any was printed (FOURIER_CIRCUITS_PROGRESS_SECONDS overrides LOG_SECONDS; 0
logs every update), each naming the step, the fields the run reports, the steps per second and
the time left if every step runs (an early stop ends sooner). Messages (`note`) go between the
lines or above the bar. stdout is never touched, so `--json` keeps it to one object.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from typing import IO, Any

from tqdm import tqdm

from fourier_circuits.theory import FourierCircuitsError

#: Seconds between two log lines when stderr is not a terminal.
LOG_SECONDS = 5.0
SECONDS_ENV = "FOURIER_CIRCUITS_PROGRESS_SECONDS"


def log_seconds() -> float:
    """LOG_SECONDS, or the value of FOURIER_CIRCUITS_PROGRESS_SECONDS (a number >= 0)."""
    raw = os.environ.get(SECONDS_ENV)
    if raw is None:
        return LOG_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not (math.isfinite(value) and value >= 0):
        raise FourierCircuitsError(f"{SECONDS_ENV}={raw!r} must be a number of seconds >= 0")
    return value


def duration(seconds: float) -> str:
    """3s, 4m05s, 2h03m."""
    s = max(round(seconds), 0)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


class StepProgress:
    """A run of `total` steps; update(step, **fields) after each measurement, close() at the end.

    fields: name -> value, shown as given (format numbers before passing them).
    """

    def __init__(
        self,
        total: int,
        desc: str,
        *,
        stream: IO[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.desc = desc
        # sys.stderr is None when the process was started with stderr closed: then nothing shows
        self.stream: IO[str] | None = stream if stream is not None else sys.stderr
        self.clock = clock
        self.every = log_seconds()
        self.start = clock()
        self.step = 0
        self.fields: dict[str, Any] = {}
        self._last_line = self.start  # the first line after `every` seconds: a short run is quiet
        self._logged_step = -1
        terminal = getattr(self.stream, "isatty", lambda: False)()
        self.bar: tqdm[Any] | None = (
            tqdm(total=total, desc=desc, unit="step", file=self.stream, leave=False)
            if terminal
            else None
        )

    def update(self, step: int, **fields: Any) -> None:
        self.step, self.fields = step, fields
        if self.bar is not None:
            self.bar.update(step - self.bar.n)
            self.bar.set_postfix(fields, refresh=False)
            return
        now = self.clock()
        if now - self._last_line >= self.every:
            self._line(now)

    def note(self, message: str) -> None:
        """One line of text, above the bar or between the log lines."""
        if self.bar is not None:
            self.bar.write(f"{self.desc}: {message}", file=self.stream)
        else:
            self._write(f"{self.desc}: {message}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        elif 0 <= self._logged_step != self.step:  # a log that showed the run shows its end
            self._line(self.clock(), final=True)

    def _line(self, now: float, *, final: bool = False) -> None:
        elapsed = now - self.start
        parts = [f"{self.desc}: step {self.step}/{self.total}"]
        parts += [f"{name} {value}" for name, value in self.fields.items()]
        if self.step > 0 and elapsed > 0:
            rate = self.step / elapsed
            parts.append(f"{rate:.3g} steps/s")
            if not final:
                parts.append(f"at most {duration((self.total - self.step) / rate)} left")
        parts.append(f"{duration(elapsed)} elapsed")
        self._write(", ".join(parts))
        self._last_line, self._logged_step = now, self.step

    def _write(self, text: str) -> None:
        if self.stream is None:
            return
        try:
            self.stream.write(text + "\n")
            self.stream.flush()
        except (OSError, ValueError):  # a closed or full log: progress is not worth failing for
            pass
