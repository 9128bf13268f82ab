"""The grid of a sweep: `--grid 'p=7,11;k=2,3;seed=0..9'` read into named axes of values.

A spec is `;`-separated axes `NAME=VALUES`; VALUES is `,`-separated, each a value or an inclusive
integer range `a..b` (a <= b). Names are the subcommand's options without the leading dashes,
with `_` or `-` between words (`weight_decay` and `weight-decay` are the same axis). An axis with
one value fixes that option for every cell. Only the text is read here; whether a name is an
option of the subcommand and a value one it accepts is experiments.sweep.cells's job. Pure: no
I/O, no subcommand imported.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from fourier_circuits.theory import FourierCircuitsError

#: More cells than this are refused without --force (a typo such as seed=0..100000 would
#: otherwise start a week of work).
MAX_CELLS = 10_000
#: ... and more than this always: the plan alone would hold millions of argument lists.
HARD_MAX_CELLS = 1_000_000

_RANGE = re.compile(r"^([+-]?\d+)\.\.([+-]?\d+)$")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*([_-][A-Za-z0-9]+)*$")


@dataclass(frozen=True)
class Axis:
    """One option of the subcommand and the values it takes, as text (`name` with underscores)."""

    name: str  # e.g. "weight_decay"
    values: tuple[str, ...]  # e.g. ("0.1", "1"); ranges expanded

    @property
    def flag(self) -> str:
        """The subcommand's flag: --weight-decay."""
        return "--" + self.name.replace("_", "-")


@dataclass(frozen=True)
class Grid:
    """The axes of a sweep in the order given; cells are their product, last axis fastest."""

    axes: tuple[Axis, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(axis.name for axis in self.axes)

    @property
    def n_cells(self) -> int:
        return math.prod(len(axis.values) for axis in self.axes)

    def cells(self) -> Iterator[dict[str, str]]:
        """Each cell as {axis name: value text}, in a fixed order (cell i is the i-th)."""
        for values in itertools.product(*(axis.values for axis in self.axes)):
            yield dict(zip(self.names, values, strict=True))

    def as_dict(self) -> dict[str, list[str]]:
        """{axis: [values]}: what DIR/sweep.json records (a resumed sweep must match it)."""
        return {axis.name: list(axis.values) for axis in self.axes}

    def spec(self) -> str:
        """The grid as a normalised spec string (ranges expanded)."""
        return ";".join(f"{axis.name}={','.join(axis.values)}" for axis in self.axes)


def _expand(name: str, item: str, room: int) -> list[str]:
    """One comma-separated item: a value, or the integers a..b (at most `room` of them)."""
    if ".." not in item:
        return [item]
    match = _RANGE.match(item)
    if match is None:
        raise FourierCircuitsError(
            f"--grid axis {name!r}: {item!r} is not a range of integers a..b (e.g. 0..9)"
        )
    low, high = int(match.group(1)), int(match.group(2))
    if low > high:
        raise FourierCircuitsError(
            f"--grid axis {name!r}: range {item!r} is empty (a..b needs a <= b)"
        )
    if high - low + 1 > room:
        raise FourierCircuitsError(
            f"--grid axis {name!r}: range {item!r} has {high - low + 1} values, more than the "
            f"{HARD_MAX_CELLS} cells a sweep can hold"
        )
    return [str(value) for value in range(low, high + 1)]


def parse_grid(spec: str) -> Grid:
    """The Grid of a spec; raises FourierCircuitsError naming the axis and the rule broken
    (empty spec, axis or value; a name that is not an option name; an axis given twice; a value
    given twice on one axis; a malformed or empty range)."""
    if not spec.strip():
        raise FourierCircuitsError(
            "--grid is empty; give axes such as 'p=7,11;k=2;seed=0..9' (NAME=VALUES, ';' between)"
        )
    axes: list[Axis] = []
    seen: set[str] = set()
    for part in spec.split(";"):
        part = part.strip()
        if not part:
            raise FourierCircuitsError(
                f"--grid {spec!r} has an empty axis (two ';' in a row, or one at an end)"
            )
        name, sep, text = (piece.strip() for piece in part.partition("="))
        if not sep:
            raise FourierCircuitsError(f"--grid axis {part!r} has no '='; write NAME=VALUES")
        name = name.lstrip("-")
        if not _NAME.match(name):
            raise FourierCircuitsError(
                f"--grid axis name {name!r} is not an option name (letters, digits, _ or -)"
            )
        name = name.replace("-", "_")
        if name in seen:
            raise FourierCircuitsError(f"--grid axis {name!r} is given twice")
        seen.add(name)
        values: list[str] = []
        for item in text.split(","):
            item = item.strip()
            if not item:
                raise FourierCircuitsError(
                    f"--grid axis {name!r} has an empty value ({text!r}); give NAME=V1,V2,..."
                )
            values += _expand(name, item, HARD_MAX_CELLS - len(values))
        repeated = [value for value, count in Counter(values).items() if count > 1]
        if repeated:
            shown = ", ".join(repeated[:5])
            raise FourierCircuitsError(
                f"--grid axis {name!r} repeats values ({shown}); each cell must be distinct"
            )
        axes.append(Axis(name, tuple(values)))
    return Grid(tuple(axes))


def check_size(grid: Grid, *, force: bool) -> None:
    """Refuse more than MAX_CELLS cells without force, and more than HARD_MAX_CELLS always."""
    n = grid.n_cells
    if n > HARD_MAX_CELLS:
        raise FourierCircuitsError(
            f"--grid has {n} cells, more than the {HARD_MAX_CELLS} a sweep can hold; split it"
        )
    if n > MAX_CELLS and not force:
        raise FourierCircuitsError(
            f"--grid has {n} cells, more than {MAX_CELLS}; pass --force to run them all"
        )
