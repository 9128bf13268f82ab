"""The command line: `fourier-circuits SUBCOMMAND [options]` (DESIGN.md, "Contracts").

Every subcommand takes --json and then prints exactly one JSON object on stdout; tables, progress
and logs otherwise. Exit status: 0 every checked claim held; 1 a checked claim failed (named in the
output); 2 bad input or a failed solve, with one line on stderr and no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
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
        "check a saved network (.npz) against the theory: margin, frequencies, coverage",
    ),
    "verify": (
        "cmd_verify",
        "the main job: check every claim of the paper by independent routes and write a report",
    ),
}


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
    parser = _Parser(prog=PROG, description=__doc__.splitlines()[0])
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
    checked claim held, 1 one failed (named in the output), 2 bad input (one line on stderr)."""
    words = sys.argv[1:] if argv is None else list(argv)
    try:
        parser = build_parser(requested(words))
        args = parser.parse_args(words)
        command: Command = args._command
        outcome = command.run(args)
    except UsageError as err:
        print(str(err), file=sys.stderr)
        return 2
    except FourierCircuitsError as err:
        name = getattr(locals().get("args"), "command", "")
        print(f"{PROG} {name}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(outcome.data, allow_nan=False, sort_keys=False))
    else:
        print(render(outcome))
    return 0 if outcome.ok else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
