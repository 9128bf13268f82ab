"""The command line: `fourier-circuits SUBCOMMAND [options]` (DESIGN.md, "Contracts").

Every subcommand takes --json and then prints exactly one JSON object on stdout; tables, progress
and logs otherwise. Exit status: 0 every checked claim held; 1 a checked claim failed (named in the
output); 2 bad input or a failed solve, with one line on stderr and no traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import NoReturn

from fourier_circuits.experiments import (
    cmd_construct,
    cmd_grokking,
    cmd_inspect,
    cmd_solve,
    cmd_theory,
    cmd_train,
    cmd_transformer,
    cmd_verify,
)
from fourier_circuits.experiments.outcome import Command, Outcome
from fourier_circuits.theory import FourierCircuitsError

PROG = "fourier-circuits"
COMMANDS: tuple[Command, ...] = (
    cmd_theory,
    cmd_construct,
    cmd_solve,
    cmd_train,
    cmd_transformer,
    cmd_grokking,
    cmd_inspect,
    cmd_verify,
)


class UsageError(Exception):
    """Raised instead of argparse's print-usage-and-exit, so the CLI prints one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: error: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND", parser_class=_Parser)
    sub.required = True
    for command in COMMANDS:
        sp = sub.add_parser(command.NAME, help=command.HELP, description=command.HELP)
        command.add_arguments(sp)
        sp.add_argument("--json", action="store_true", help="print exactly one JSON object")
        sp.set_defaults(_command=command)
    return parser


def render(outcome: Outcome) -> str:
    """A readable table: one `key  value` line per entry, then the failed claims."""
    width = max((len(key) for key, _ in outcome.rows), default=0)
    lines = [f"{key:<{width}}  {value}" for key, value in outcome.rows]
    lines += [f"FAILED: {claim}" for claim in outcome.failures]
    lines.append("all checked claims held" if outcome.ok else "some checked claims FAILED")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
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
