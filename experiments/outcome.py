"""What a subcommand returns to the command line, and the shape of a subcommand module."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Outcome:
    """data: the JSON object (DESIGN.md keys and more); rows: the human table;
    failures: the checked claims that failed (empty when all held)."""

    data: dict[str, Any]
    rows: list[tuple[str, str]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


class Command(Protocol):
    """A subcommand module: NAME, add_arguments(parser), run(args) -> Outcome (its help is in
    experiments.cli.SUBCOMMANDS, so listing the subcommands imports none of them)."""

    NAME: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> Outcome: ...


def fmt(value: Any) -> str:
    """Format a value for a table: floats to 10 significant digits."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.10g}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "-"
        # a list of pairs (frequency classes, problems) reads as "(a, b), (c, d)"
        return ", ".join(f"({fmt(v)})" if isinstance(v, (list, tuple)) else fmt(v) for v in value)
    return str(value)
