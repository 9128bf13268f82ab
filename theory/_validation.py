"""The project's validators: one for integers, one for real arrays (STYLE.md, "Errors").

Each raises FourierCircuitsError naming the argument, its value and the rule it breaks, e.g.
`p=4 must be an odd integer >= 3`. Callers whose rule has more to say (parity, a sum rule) check it
after the validator has returned a clean value, with their own message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeGuard

import numpy as np
import numpy.typing as npt

import fourier_circuits.theory.budget as budget
from fourier_circuits.theory.errors import FourierCircuitsError

FloatArray = npt.NDArray[np.float64]


def is_integer(value: object) -> TypeGuard[int | np.integer[Any]]:
    """Whether value is an integer here: an int or a numpy integer, but not a bool (bool is an int
    subclass; True as a modulus or a count is a bug, not a 1)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _integer_rule(min_value: int | None, max_value: int | None) -> str:
    if min_value is not None and max_value is not None:
        return f"an integer in {min_value}..{max_value}"
    if min_value is not None:
        return f"an integer >= {min_value}"
    if max_value is not None:
        return f"an integer <= {max_value}"
    return "an integer"


def check_int(
    name: str,
    value: object,
    *,
    min_value: int | None = None,
    max_value: int | None = None,
    rule: str | None = None,
    integral_float: bool = False,
) -> int:
    """value as a Python int, or FourierCircuitsError `{name}={value!r} must be {rule}`.

    Accepts int and numpy integers, never bool; with integral_float also a float (or numpy float)
    with an integral value such as 7.0 (how p and k arrive from JSON). min_value and max_value are
    inclusive bounds. rule is the condition as the message states it; by default it is built from
    the bounds: "an integer", "an integer >= 1", "an integer in 1..12".
    """
    if is_integer(value):
        number = int(value)
    elif integral_float and isinstance(value, (float, np.floating)) and float(value).is_integer():
        number = int(value)  # float.is_integer() is False for NaN and inf
    else:
        number = None
    if (
        number is None
        or (min_value is not None and number < min_value)
        or (max_value is not None and number > max_value)
    ):
        rule = rule or _integer_rule(min_value, max_value)
        raise FourierCircuitsError(f"{name}={value!r} must be {rule}")
    return number


#: Seeds are integers below this: what numpy's legacy generators and torch.manual_seed accept.
SEED_LIMIT = 2**32


def check_seed(value: object, name: str = "seed") -> int:
    """value as an int in 0..2^32 - 1 (a seed), or FourierCircuitsError naming it."""
    if not is_integer(value) or not 0 <= int(value) < SEED_LIMIT:
        raise FourierCircuitsError(
            f"{name}={value!r} must be an integer >= 0 and < 2^32 (numpy's and torch's seeds)"
        )
    return int(value)


def check_array(
    name: str,
    value: Any,
    *,
    ndim: int | None = None,
    axes: str = "",
    check_shape: Callable[[tuple[int, ...]], None] | None = None,
) -> FloatArray:
    """value as a read-only float64 copy of real, finite numbers, or FourierCircuitsError.

    The checks, in order: not a numpy masked array (np.asarray would silently drop the mask);
    readable as one array (not ragged); dtype integer or float (not bool, complex, object or text);
    exactly `ndim` axes when ndim is given (`axes` is appended to that message, e.g. what the axes
    are); `check_shape(shape)`, which raises its own FourierCircuitsError for a rule on the shape
    (square, odd length); the copy fits in memory (theory.budget.require_memory: 8 bytes a value
    and 1 for the finiteness check); every value finite.
    """
    if isinstance(value, np.ma.MaskedArray):
        raise FourierCircuitsError(
            f"{name} is a masked array (numpy.ma); pass a plain array, e.g. {name}.filled(0.0) "
            "or the unmasked part (its mask would otherwise be silently dropped)"
        )
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as err:  # ragged nested lists, unconvertible objects
        raise FourierCircuitsError(f"{name} cannot be read as an array: {err}") from None
    if array.dtype.kind not in "fiu" or array.dtype == np.bool_:
        raise FourierCircuitsError(
            f"{name} has dtype {array.dtype}; it must hold real numbers (stored as float64)"
        )
    if ndim is not None and array.ndim != ndim:
        raise FourierCircuitsError(
            f"{name} has shape {array.shape}; it must have {ndim} axes{axes}"
        )
    if check_shape is not None:
        check_shape(array.shape)
    budget.require_memory(f"a float64 copy of {name} (shape {array.shape})", 9 * array.size)
    array = np.array(array, dtype=np.float64, copy=True)
    if not np.all(np.isfinite(array)):
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise FourierCircuitsError(f"{name} holds {bad} non-finite values (NaN or inf)")
    array.setflags(write=False)
    return array
