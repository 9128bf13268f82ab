"""The cells of a sweep: each one the subcommand's own argument list, parsed by the subcommand's
own parser and checked by its own `validate` before any cell runs (plan), then run by the same
`run` the single command calls (run_cell), so a cell's numbers are the command's, same seed.

A cell never prints and never writes a file: options that write (--save, --out, --force and any
--save-*) cannot be axes, and while a cell runs its stdout and stderr (Python's and the file
descriptors, where solvers print from C) go to /dev/null.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import io
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, cast

from fourier_circuits.experiments.outcome import Command
from fourier_circuits.experiments.sweep.grid import Grid, check_size
from fourier_circuits.theory import FourierCircuitsError

#: The subcommands a sweep can run (each has add_arguments, validate and run).
SUBCOMMANDS = ("train", "transformer", "solve", "construct")
#: Options that are not axes: they write files (a sweep writes only DIR), or are the parser's.
NOT_AXES = ("save", "out", "force", "help", "json")
#: What a cell's status says: ok (exit 0), claims_failed (1), error (2: bad input, diverged or
#: stalled training, a failed solve), internal_error (3: a bug, or a worker that died).
EXIT_STATUS = {"ok": 0, "claims_failed": 1, "error": 2, "internal_error": 3}
_TRUE, _FALSE = ("true", "yes", "1"), ("false", "no", "0")


class _Parser(argparse.ArgumentParser):
    """The subcommand's options, refusing with a FourierCircuitsError instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise FourierCircuitsError(f"{self.prog}: {message}")


def command(name: str) -> Command:
    """The subcommand's module (experiments/cmd_NAME.py), imported now."""
    return cast(Command, importlib.import_module(f"fourier_circuits.experiments.cmd_{name}"))


@functools.cache
def parser_of(name: str) -> argparse.ArgumentParser:
    """The parser of `fourier-circuits NAME`: the subcommand's own add_arguments."""
    parser = _Parser(prog=f"fourier-circuits {name}")
    command(name).add_arguments(parser)
    return parser


def axes_of(name: str) -> dict[str, argparse.Action]:
    """The options of subcommand `name` that can be axes: axis name (underscores) -> action."""
    found: dict[str, argparse.Action] = {}
    for action in parser_of(name)._actions:
        longs = [flag for flag in action.option_strings if flag.startswith("--")]
        if not longs or action.dest in NOT_AXES or action.dest.startswith("save"):
            continue
        found[longs[0][2:].replace("-", "_")] = action
    return found


def _is_switch(action: argparse.Action) -> bool:
    return action.nargs == 0  # store_true and friends: present or not


def cell_argv(name: str, cell: dict[str, str]) -> list[str]:
    """The command-line words of one cell: `--flag=value`, or a switch given or left out."""
    actions = axes_of(name)
    argv: list[str] = []
    for axis, value in cell.items():
        action = actions[axis]
        flag = "--" + axis.replace("_", "-")
        if _is_switch(action):
            word = value.lower()
            if word not in _TRUE + _FALSE:
                raise FourierCircuitsError(
                    f"--grid axis {axis!r}: {value!r} is not true or false ({flag} is a switch)"
                )
            argv += [flag] if word in _TRUE else []
        else:
            argv.append(f"{flag}={value}")  # = so that a value such as -1 is not read as a flag
    return argv


@dataclass(frozen=True)
class Cell:
    """One run: its place in the grid, its axis values (as text and as the subcommand parsed
    them) and its argument list."""

    index: int
    text: dict[str, str]
    values: dict[str, Any]
    argv: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    """Every cell of a sweep, each already checked by the subcommand."""

    subcommand: str
    grid: Grid
    cells: tuple[Cell, ...]


def check_axes(name: str, grid: Grid) -> None:
    """Refuse a subcommand the sweep cannot run and an axis that is not one of its options."""
    if name not in SUBCOMMANDS:
        raise FourierCircuitsError(f"sweep cannot run {name!r}; it runs {', '.join(SUBCOMMANDS)}")
    valid = axes_of(name)
    for axis in grid.names:
        if axis in NOT_AXES or axis.startswith("save"):
            raise FourierCircuitsError(
                f"--grid axis {axis!r} cannot be swept: a cell writes no files (the sweep writes "
                "--out DIR)"
            )
        if axis not in valid:
            raise FourierCircuitsError(
                f"--grid axis {axis!r} is not an option of {name}; valid axes: "
                f"{', '.join(sorted(valid))}"
            )


def _describe(text: dict[str, str]) -> str:
    return " ".join(f"{axis}={value}" for axis, value in text.items())


def plan(name: str, grid: Grid, *, force: bool = False) -> Plan:
    """Every cell of `grid` for subcommand `name`, parsed and validated by the subcommand
    (its own parser and validate(args): no training, no solving) before anything runs; the
    first refused cell raises FourierCircuitsError naming it."""
    check_size(grid, force=force)
    check_axes(name, grid)
    module = command(name)
    validate = cast(Any, module).validate  # each swept subcommand has one
    parser = parser_of(name)
    dests = {axis: action.dest for axis, action in axes_of(name).items()}
    cells = []
    for index, text in enumerate(grid.cells()):
        argv = cell_argv(name, text)
        try:
            args = parser.parse_args(argv)
            validate(args)
        except FourierCircuitsError as err:
            raise FourierCircuitsError(f"cell {index} ({_describe(text)}): {err}") from None
        values = {axis: getattr(args, dests[axis]) for axis in text}
        cells.append(Cell(index, text, values, tuple(argv)))
    return Plan(name, grid, tuple(cells))


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Python's stdout and stderr, and file descriptors 1 and 2, to nowhere inside the block."""
    streams = contextlib.ExitStack()
    with streams:
        streams.enter_context(contextlib.redirect_stdout(io.StringIO()))
        streams.enter_context(contextlib.redirect_stderr(io.StringIO()))
        saved: list[tuple[int, int]] = []
        try:
            for fd in (1, 2):
                with contextlib.suppress(OSError):  # no such descriptor (embedded use)
                    saved.append((fd, os.dup(fd)))
            if saved:
                for stream in (sys.__stdout__, sys.__stderr__):
                    if stream is not None:
                        stream.flush()
                devnull = os.open(os.devnull, os.O_WRONLY)
                for fd, _ in saved:
                    os.dup2(devnull, fd)
                os.close(devnull)
            yield
        finally:
            for fd, copy in saved:
                os.dup2(copy, fd)
                os.close(copy)


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text if len(text) <= 300 else text[:297] + "..."


def result_of(status: str, *, error: str | None = None, **more: Any) -> dict[str, Any]:
    """A cell's result: status, exit_status, error (one line or None), failures, data."""
    base: dict[str, Any] = {"status": status, "exit_status": EXIT_STATUS[status], "error": error}
    return {"failures": [], "data": {}, **base, **more}


def run_cell(name: str, argv: Sequence[str]) -> dict[str, Any]:
    """Run one cell as `fourier-circuits NAME ARGV --json` would, in this process, silently:
    {status, exit_status, error, failures, data (the JSON object), wall_seconds}. Errors are
    mapped as the command line maps them (experiments.cli): a FourierCircuitsError is status
    "error" (exit 2), anything else "internal_error" (exit 3); an interrupt is raised."""
    start = time.perf_counter()
    try:
        with quiet():
            outcome = command(name).run(parser_of(name).parse_args(list(argv)))
            # exactly what --json prints (strict JSON: a NaN is an internal error there too)
            data = json.loads(json.dumps(outcome.data, allow_nan=False))
    except FourierCircuitsError as err:
        result = result_of("error", error=_one_line(err))
    except Exception as err:  # a bug: one line, as the command line prints it
        result = result_of("internal_error", error=f"{type(err).__name__}: {_one_line(err)}")
    else:
        status = "ok" if outcome.ok else "claims_failed"
        result = result_of(status, failures=list(outcome.failures), data=data)
    result["wall_seconds"] = time.perf_counter() - start
    return result


def make_row(cell: Cell, result: dict[str, Any]) -> dict[str, Any]:
    """One row of the results table: the cell's index and axis values, its status, then every
    key of its JSON object (a key that is also an axis name, such as `steps`, as result_KEY)."""
    row: dict[str, Any] = {"cell": cell.index, **cell.values}
    for key in ("status", "exit_status", "error", "failures", "wall_seconds"):
        row[key] = result.get(key)
    for key, value in result.get("data", {}).items():
        row[f"result_{key}" if key in row else key] = value
    return row
