"""The project's two validators (theory._validation): check_int and check_array name the argument,
its value and the rule; each accepts what the project accepts and refuses the rest, and the
public functions that use them keep refusing what they refused before."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fourier_circuits.constructions import PhaseDesign, construct
from fourier_circuits.theory import (
    FourierCircuitsError,
    PolyNet,
    attention_spectrum,
    check_array,
    check_int,
    dft,
    is_integer,
    single_neuron_objective,
)
from fourier_circuits.theory.even_p import lemma_bound, paper_formula, validate_even_p

# --- check_int ------------------------------------------------------------------------------


@given(st.integers(-(10**30), 10**30))
def test_every_python_integer_is_returned_as_itself(n: int) -> None:
    assert check_int("n", n) == n
    assert type(check_int("n", n)) is int


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint16, np.uint64])
def test_numpy_integers_become_python_ints(dtype: type) -> None:
    value = check_int("n", dtype(7))
    assert value == 7 and type(value) is int


@pytest.mark.parametrize("bad", [True, False, np.True_, 3.0, np.float64(3.0), "3", None, [3], 3j])
def test_non_integers_are_refused_with_name_and_value(bad: object) -> None:
    with pytest.raises(FourierCircuitsError, match=r"^n=.* must be an integer$") as info:
        check_int("n", bad)
    assert repr(bad) in str(info.value)
    assert not is_integer(bad)


def test_integral_floats_only_when_asked() -> None:
    assert check_int("p", 7.0, integral_float=True) == 7
    assert type(check_int("p", np.float32(7.0), integral_float=True)) is int
    for bad in (7.5, float("nan"), float("inf"), True):
        with pytest.raises(FourierCircuitsError, match="must be an integer"):
            check_int("p", bad, integral_float=True)


@pytest.mark.parametrize(
    ("kwargs", "value", "message"),
    [
        ({"min_value": 1}, 0, "n=0 must be an integer >= 1"),
        ({"max_value": 5}, 6, "n=6 must be an integer <= 5"),
        ({"min_value": 1, "max_value": 12}, 13, "n=13 must be an integer in 1..12"),
        ({"min_value": 1, "max_value": 12}, 0, "n=0 must be an integer in 1..12"),
        ({"min_value": 1, "rule": "a positive integer (or None)"}, -2, "n=-2 must be a positive"),
        ({"rule": "an odd integer >= 3"}, 2.5, "n=2.5 must be an odd integer >= 3"),
    ],
)
def test_bounds_are_inclusive_and_the_rule_is_stated(
    kwargs: dict[str, Any], value: object, message: str
) -> None:
    with pytest.raises(FourierCircuitsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_int("n", value, **kwargs)
    if "min_value" in kwargs:
        assert check_int("n", kwargs["min_value"], **kwargs) == kwargs["min_value"]
    if "max_value" in kwargs:
        assert check_int("n", kwargs["max_value"], **kwargs) == kwargs["max_value"]


def test_public_callers_keep_their_messages() -> None:
    with pytest.raises(FourierCircuitsError, match=r"^p=3 must be an even integer >= 2 \(this"):
        validate_even_p(3)
    with pytest.raises(FourierCircuitsError, match=r"^p=2\.0 must be an even integer >= 2$"):
        validate_even_p(2.0)
    with pytest.raises(FourierCircuitsError, match=r"^p=1 must be an integer >= 2$"):
        paper_formula(1, 2)
    with pytest.raises(FourierCircuitsError, match=r"^p=True must be an integer >= 2$"):
        lemma_bound([1.0], True, 2)  # type: ignore[arg-type]
    with pytest.raises(FourierCircuitsError, match=r"^design 'x': N=True must be an integer >= 1$"):
        PhaseDesign("x", True, ((0, 0),))
    with pytest.raises(FourierCircuitsError, match=r"n_top=1\.0 must be an integer in 1\.\.12"):
        attention_spectrum(np.eye(5), n_top=1.0)  # type: ignore[arg-type]
    with pytest.raises(FourierCircuitsError, match=r"frequencies=\[True\] must be integers"):
        construct(7, 2, frequencies=[True])


def test_numpy_integers_are_accepted_where_ints_are() -> None:
    assert attention_spectrum(np.eye(5), n_top=np.int64(3)).n_top == 3
    assert PhaseDesign("x", np.int32(4), ((0, 1), (1, 0))).N == 4
    assert construct(7, 2, frequencies=[np.int64(1)]).m == 8


# --- check_array ----------------------------------------------------------------------------


def test_arrays_become_read_only_float64_copies() -> None:
    source = np.arange(6, dtype=np.int32).reshape(2, 3)
    array = check_array("A", source, ndim=2)
    assert array.dtype == np.float64 and not array.flags.writeable
    source[0, 0] = 9
    assert array[0, 0] == 0.0
    np.testing.assert_array_equal(check_array("A", [[1.5, 2.0]]), [[1.5, 2.0]])


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (np.ones((2, 2), dtype=complex), r"A has dtype complex128; it must hold real numbers"),
        (np.ones((2, 2), dtype=bool), "A has dtype bool"),
        (np.ones((2, 2), dtype=object), "A has dtype object"),
        (np.full((2, 2), "x"), "A has dtype <U1"),
        ([[1.0], [1.0, 2.0]], "A cannot be read as an array"),
        (np.ones(3), r"A has shape \(3,\); it must have 2 axes \(rows, columns\)$"),
        (np.array([[1.0, np.nan], [np.inf, -np.inf]]), "A holds 3 non-finite values"),
        (np.ma.masked_array(np.ones((2, 2)), mask=[[0, 1], [0, 0]]), "A is a masked array"),
        (np.ma.masked_array(np.ones((2, 2))), "A is a masked array"),  # even with nothing masked
    ],
)
def test_bad_arrays_are_refused_with_the_reason(value: Any, message: str) -> None:
    with pytest.raises(FourierCircuitsError, match=message):
        check_array("A", value, ndim=2, axes=" (rows, columns)")


def test_the_shape_rule_runs_after_the_dtype_and_before_finiteness() -> None:
    seen: list[tuple[int, ...]] = []

    def square(shape: tuple[int, ...]) -> None:
        seen.append(shape)
        if shape[0] != shape[1]:
            raise FourierCircuitsError(f"A has shape {shape}; it must be square")

    with pytest.raises(FourierCircuitsError, match="dtype"):
        check_array("A", np.ones((2, 3), dtype=bool), check_shape=square)
    assert seen == []
    with pytest.raises(FourierCircuitsError, match="must be square"):
        check_array("A", np.full((2, 3), np.nan), check_shape=square)
    with pytest.raises(FourierCircuitsError, match="non-finite"):
        check_array("A", np.full((2, 2), np.nan), check_shape=square)


@pytest.mark.parametrize(
    "call",
    [
        lambda m: PolyNet(m, np.ones((4, 5))),
        lambda m: single_neuron_objective(m[0], np.ones(5)),
        lambda m: dft(m),
        lambda m: attention_spectrum(m[:, 0, :].repeat(2, axis=0)[:5]),
    ],
    ids=["PolyNet", "single_neuron", "dft", "attention"],
)
def test_masked_arrays_are_refused_everywhere_arrays_are_taken(call: Any) -> None:
    """A mask must not be silently dropped: the public functions refuse a numpy.ma array."""
    masked = np.ma.masked_array(np.ones((4, 2, 5)), mask=np.zeros((4, 2, 5), dtype=bool))
    masked.mask[0, 0, 0] = True
    with pytest.raises(FourierCircuitsError, match="masked array"):
        call(masked)
    call(masked.filled(1.0))  # the same values as a plain array are accepted


def test_noise_samples_are_a_positive_integer_but_not_a_bool() -> None:
    from fourier_circuits.theory import noise_concentrations

    rng = np.random.default_rng(0)
    for bad, shown in ((0, "0"), (True, "True"), (2.0, "2.0")):
        with pytest.raises(
            FourierCircuitsError, match=rf"^samples={shown} must be an integer >= 1$"
        ):
            noise_concentrations(5, samples=bad, rng=rng)
    assert noise_concentrations(5, samples=np.int64(2), rng=rng).shape == (2,)
