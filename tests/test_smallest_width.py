"""The smallest-width result as a typed function (constructions.smallest_width): the command line
prints its serialisation; for k = 2 the proved lower bound meets the lattice design."""

from __future__ import annotations

import json

import pytest

from fourier_circuits.constructions.smallest_width import (
    MAX_K,
    SmallestWidth,
    smallest_width,
)
from fourier_circuits.experiments.cli import main
from fourier_circuits.theory import FourierCircuitsError


def test_the_command_line_prints_the_results_serialisation(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = smallest_width(2, p=7)
    assert isinstance(result, SmallestWidth) and result.holds
    assert result.smallest_design_size == result.lower_bound_per_frequency == 6
    assert result.width == 18 and result.margin_ratio == pytest.approx(1, abs=1e-9)
    assert main(["solve", "--min-width", "--k", "2", "--p", "7", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    expected = result.as_dict()
    assert printed.pop("seconds") > 0 and expected.pop("seconds") > 0
    assert printed == expected


@pytest.mark.parametrize(
    ("k", "kwargs", "message"),
    [
        (MAX_K + 1, {}, f"k={MAX_K + 1}: the smallest-width result is computed for k <= {MAX_K}"),
        (10**12, {}, "k=1000000000000: the smallest-width result"),  # at once, no 3^(k-1)
        (2, {"search_seconds": -1.0}, "search_seconds=-1.0 must be a number >= 0"),
        (2, {"search_seconds": float("inf")}, "search_seconds=inf must be a number >= 0"),
        (2, {"p": 4}, "p=4 must be an odd integer >= 3"),
    ],
)
def test_what_cannot_be_answered_is_refused_at_once(k: int, kwargs: dict, message: str) -> None:
    with pytest.raises(FourierCircuitsError, match=message.replace("(", r"\(").replace("^", r"\^")):
        smallest_width(k, **kwargs)
