"""Argument types and rules shared by the subcommands: a value that cannot be right is refused
by the parser, naming the flag, the value and the rule (argparse then prints one line: exit 2)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Iterable


def seconds(*, allow_zero: bool) -> Callable[[str], float]:
    """An argparse type: a finite number of seconds, > 0 (or >= 0 with allow_zero)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
        if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
            rule = ">= 0" if allow_zero else "> 0"
            raise argparse.ArgumentTypeError(f"{text!r} must be a finite number {rule}")
        return value

    parse.__name__ = "seconds"  # argparse names the type in its messages
    return parse


def refuse_given(args: argparse.Namespace, flags: Iterable[str], *, unless: str) -> None:
    """Refuse each flag of `flags` the user gave (its value is not None/False) where it does not
    apply: `unless` says when it would."""
    given = [
        flag
        for flag in flags
        if getattr(args, flag.lstrip("-").replace("-", "_"))
        not in (
            None,
            False,
        )
    ]
    if given:
        from fourier_circuits.theory import FourierCircuitsError

        raise FourierCircuitsError(f"{', '.join(given)} does not apply {unless}")
