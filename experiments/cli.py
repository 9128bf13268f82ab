"""The command line: `fourier-circuits SUBCOMMAND [options]` (DESIGN.md, "Contracts").

Every subcommand takes --json and then prints exactly one JSON object on stdout; tables, progress
and logs otherwise. Exit status: 0 every checked claim held; 1 a checked claim failed (named in the
output); 2 bad input or a failed solve, with one line on stderr and no traceback; 3 an internal
error (one line; `fourier-circuits --debug ...` shows its traceback); 130 interrupted, 143
terminated (SIGTERM), with nothing half-written left behind.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys
import threading
from collections.abc import Collection, Sequence
from typing import NoReturn, cast

from fourier_circuits.experiments.outcome import Command, Outcome
from fourier_circuits.theory.errors import FourierCircuitsError

PROG = "fourier-circuits"

#: The subcommands in the order --help lists them: name -> (module under experiments/, help).
#: A module is imported only when its subcommand is parsed, so `theory` and `inspect` never load
#: torch or cvxpy, and `--help` loads no subcommand at all.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "theory": ("cmd_theory", "closed forms: gamma*(p, k), the width bound, beta"),
    "construct": (
        "cmd_construct",
        "build a max-margin construction and check it against the theory",
    ),
    "solve": (
        "cmd_solve",
        "bracket the maximum margin between a column-generation network and dual certificates",
    ),
    "train": (
        "cmd_train",
        "train the paper's network and check the margin, frequencies and coverage it finds",
    ),
    "transformer": (
        "cmd_transformer",
        "train a one-layer Transformer and analyse its attention in Fourier space",
    ),
    "grokking": (
        "cmd_grokking",
        "train and test accuracy of the Transformer for k = 2..5 at about equal p^k (Fig. 4)",
    ),
    "inspect": (
        "cmd_inspect",
        "check saved networks (.npz, PyTorch, safetensors, TransformerLens) against the theory",
    ),
    "verify": (
        "cmd_verify",
        "the main job: check every claim of the paper by independent routes and write a report",
    ),
    "paper": (
        "cmd_paper",
        "the paper's own experiments (MLP, Transformer, grokking) at its settings, with verdicts",
    ),
    "sweep": (
        "cmd_sweep",
        "a grid of train, transformer, solve or construct runs on Dask, with seed statistics",
    ),
}


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread: it unwinds through every clean-up that an interrupt
    (Ctrl-C) runs, so temporaries are removed and nothing half-written is published."""


def _terminate(signum: int, frame: object) -> NoReturn:
    raise Terminated


class UsageError(Exception):
    """Raised instead of argparse's print-usage-and-exit, so the CLI prints one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: error: {message}")


def load_command(name: str) -> Command:
    """The module of subcommand `name` (imported now, with whatever it needs)."""
    module = importlib.import_module(f"fourier_circuits.experiments.{SUBCOMMANDS[name][0]}")
    return cast(Command, module)


def build_parser(commands: Collection[str] | None = None) -> argparse.ArgumentParser:
    """The parser of every subcommand; only those in `commands` (None: all) get their options,
    which imports their modules. The others are listed with their help and cannot be parsed."""
    parser = _Parser(
        prog=PROG,
        description=__doc__.splitlines()[0],
        epilog=f"--debug (first) or {DEBUG_ENV}=1: show the traceback of an internal error",
    )
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND", parser_class=_Parser)
    sub.required = True
    for name, (_module, help_text) in SUBCOMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        if commands is not None and name not in commands:
            continue
        command = load_command(name)
        command.add_arguments(sp)
        sp.add_argument("--json", action="store_true", help="print exactly one JSON object")
        sp.set_defaults(_command=command)
    return parser


def requested(argv: Sequence[str]) -> list[str]:
    """The subcommand that argv names (its first word that is not an option), if it is one."""
    first = next((word for word in argv if not word.startswith("-")), None)
    return [first] if first in SUBCOMMANDS else []


def render(outcome: Outcome) -> str:
    """A readable table: one `key  value` line per entry, then the failed claims."""
    width = max((len(key) for key, _ in outcome.rows), default=0)
    lines = [f"{key:<{width}}  {value}" for key, value in outcome.rows]
    lines += [f"FAILED: {claim}" for claim in outcome.failures]
    lines.append("all checked claims held" if outcome.ok else "some checked claims FAILED")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run `fourier-circuits ARGV` (default: sys.argv[1:]) and return its exit status: 0 every
    checked claim held, 1 one failed (named in the output), 2 bad input (one line on stderr),
    130 interrupted (SIGINT), 143 terminated: while it runs, SIGTERM raises Terminated, which
    unwinds like an interrupt (the previous SIGTERM handler is restored on return)."""
    if threading.current_thread() is not threading.main_thread():
        return _main(argv)  # signal handlers belong to the main thread
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return _main(argv)
    except Terminated:  # arrived after _main's own handlers
        print(f"{PROG}: terminated", file=sys.stderr)
        return 143
    finally:
        if previous is not None:  # None: a handler not installed from Python, left alone
            signal.signal(signal.SIGTERM, previous)


#: Set (to anything) to see the traceback of an internal error; the same as --debug.
DEBUG_ENV = "FOURIER_CIRCUITS_DEBUG"


def _main(argv: Sequence[str] | None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    debug = bool(os.environ.get(DEBUG_ENV))
    if words[:1] == ["--debug"]:
        debug, words = True, words[1:]
    # figures are files, never windows: a user's MPLBACKEND (even an invalid one) must not matter
    os.environ["MPLBACKEND"] = "Agg"
    name = ""
    try:
        parser = build_parser(requested(words))
        args = parser.parse_args(words)
        name = args.command
        command: Command = args._command
        outcome = command.run(args)
        text = json.dumps(outcome.data, allow_nan=False) if args.json else render(outcome)
    except UsageError as err:
        print(str(err), file=sys.stderr)
        return 2
    except FourierCircuitsError as err:
        print(f"{PROG} {name}: error: {err}", file=sys.stderr)
        return 2
    except Terminated:
        print(f"{PROG}: terminated", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # a bug, not bad input: one line, and how to see the traceback
        if debug:
            raise
        where = f" {name}" if name else ""
        print(
            f"{PROG}{where}: internal error: {type(err).__name__}: {_one_line(err)} (rerun with "
            f"`{PROG} --debug ...` or {DEBUG_ENV}=1 for the traceback)",
            file=sys.stderr,
        )
        return 3
    return _emit(text, 0 if outcome.ok else 1)


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text if len(text) <= 300 else text[:297] + "..."


def _emit(text: str, status: int) -> int:
    """Print the result on stdout: a reader that went away (EPIPE) ends the run quietly with the
    status it had; a full or failing stdout is one line on stderr and exit 2."""
    try:
        print(text)
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
        return status
    except OSError as err:
        _silence_stdout()
        print(f"{PROG}: error: cannot write to stdout: {err.strerror or err}", file=sys.stderr)
        return 2
    return status


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real stdout: nothing to flush
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
