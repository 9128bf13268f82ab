"""Hostile inputs to the Python API (issue 14): huge k, huge p, networks and jobs too large for the
machine, compression bombs, wrong types. Each is refused at once with FourierCircuitsError naming
the quantity, its value or estimate and the limit; memory stays bounded; legitimate sizes are
still accepted (the negative controls)."""

from __future__ import annotations

import io
import json
import math
import pickle
import time
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fourier_circuits.theory.budget as budget
from fourier_circuits.constructions import construct
from fourier_circuits.constructions.checked import check_construction
from fourier_circuits.constructions.convex import (
    bracket,
    column_generation,
    optimal_symmetric_q,
    sdp_certificate,
    sos_certificate,
)
from fourier_circuits.constructions.training.config import TrainConfig
from fourier_circuits.constructions.transformer.config import TransformerConfig, paper_config
from fourier_circuits.theory import (
    FourierCircuitsError,
    PolyNet,
    Task,
    beta,
    dataset_margin,
    example_margins,
    gamma_star,
    gamma_star_exact,
    lattice_width,
    margin_report,
    neuron_spectra,
    normalized_margin,
    summarise,
    width_bound,
)
from fourier_circuits.theory.even_p import gamma_star_even
from fourier_circuits.theory.network_file import MAX_META_DEPTH

#: Every refusal below must come this fast (seconds): they are decided from sizes alone.
QUICK = 2.0


@contextmanager
def quickly(limit: float = QUICK) -> Iterator[None]:
    start = time.perf_counter()
    yield
    assert time.perf_counter() - start < limit


def refused(call: Callable[[], Any], *needles: str) -> str:
    """call() raises FourierCircuitsError quickly, with every needle in its message."""
    with quickly(), pytest.raises(FourierCircuitsError) as info:
        call()
    message = str(info.value)
    for needle in needles:
        assert needle in message, message
    return message


def peak_bytes(call: Callable[[], Any]) -> int:
    """The peak of Python-tracked allocations (numpy's included) while call() runs."""
    tracemalloc.start()
    try:
        call()
    except FourierCircuitsError:
        pass
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak


# --- huge k: closed forms and the task ---------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.integers(3, 10**6).map(lambda n: 2 * n + 1), st.integers(2, 10**15))
def test_closed_forms_answer_or_refuse_at_once_for_any_k(p: int, k: int) -> None:
    """gamma*, its exact form and the widths either return a value (a finite positive float,
    an exact number) or refuse with the project's error, in well under a second, for any k."""
    for closed_form in (gamma_star, gamma_star_exact, width_bound, lattice_width, beta):
        with quickly(1.0):
            try:
                value = closed_form(p, k)
            except FourierCircuitsError as err:
                assert f"k={k}" in str(err) or f"p={p}" in str(err)
                continue
        if closed_form is gamma_star or closed_form is beta:
            assert math.isfinite(value) and value > 0


def test_the_measured_hangs_of_huge_k_are_refused() -> None:
    refused(lambda: gamma_star(7, 10**12), "gamma*(p=7, k=1000000000000)", "range of float64")
    refused(lambda: gamma_star_exact(7, 10**12), "k! of gamma*", "4300 digits")
    refused(lambda: width_bound(7, 10**12), "width bound", "digits")
    refused(lambda: Task(7, 10**12).n_examples, "p^k", "digits")
    refused(lambda: gamma_star_even(2, 10**12), "gamma*_even", "range of float64")
    refused(lambda: gamma_star(1001, 3000), "range of float64")  # measured: ValueError before
    refused(lambda: beta(10**700 + 1, 2), "beta", "range of float64")


def test_legitimate_closed_forms_are_unchanged() -> None:
    assert gamma_star(5, 2) == pytest.approx(0.0304290310, rel=1e-9)
    assert gamma_star(97, 3) == pytest.approx(2.014e-5, rel=1e-3)
    assert gamma_star(3, 100) > 1  # large k, still a float64
    assert width_bound(7, 3) == 96 and lattice_width(7, 3) == 54
    assert Task(3, 1000).n_examples == 3**1000  # 478 digits: exact
    assert gamma_star(2305843009213693951, 2) > 0  # a 61-bit prime p


# --- constructions: the network's own size and the work over D_p ------------------------------


@pytest.mark.parametrize(
    ("p", "k", "needle"),
    [
        (1001, 5, "construct"),  # OOM-killed before
        (100003, 2, "construct"),  # MemoryError traceback before
        (100003, 9, "construct"),
        (5, 40, "width m = 2^80"),  # MemoryError before
    ],
)
def test_construct_refuses_a_network_that_does_not_fit(p: int, k: int, needle: str) -> None:
    message = refused(lambda: construct(p, k), needle, "of memory", "more than the limit")
    assert "available on this machine" in message


def test_construct_memory_is_bounded_by_its_refusal() -> None:
    assert peak_bytes(lambda: construct(5, 40)) < 2**20
    assert peak_bytes(lambda: construct(1001, 5)) < 2**20


def test_check_construction_refuses_the_work_before_building() -> None:
    """construct --p 2001 --k 3 grew to 6 GB before: now the pass over D_p (2 p^k m p flop)
    is estimated first and refused with its hours, and nothing is built."""
    message = refused(
        lambda: check_construction(2001, 3),
        "(m, k, p) = (32000, 3, 2001)",
        "hours",
        "more than the limit 24 hours",
    )
    assert "flop" in message
    assert peak_bytes(lambda: check_construction(2001, 3)) < 2**20


@pytest.mark.parametrize("design", [None, 5, ["paper"], object()])
def test_construct_refuses_a_design_that_is_not_one(design: object) -> None:
    refused(lambda: construct(5, 2, design), "design=")  # type: ignore[arg-type]


@pytest.mark.parametrize("frequencies", [5, "12", [1.5], [0], [3]])
def test_construct_refuses_bad_frequencies(frequencies: object) -> None:
    refused(lambda: construct(5, 2, frequencies=frequencies), "frequencies=")  # type: ignore[arg-type]


def test_legitimate_constructions_are_built() -> None:
    net = construct(97, 3)
    assert net.m == 1536
    assert construct(7, 2, "lattice", frequencies=[1, 2]).m == 12


# --- evaluation: refused with its hours estimate ------------------------------------------------


def _wide_network() -> PolyNet:
    """The inspect case of the issue: U 1000 x 3 x 2047 (2047^3 = 8.58e9 inputs <= 2^33)."""
    U = np.full((1000, 3, 2047), 1e-3)
    return PolyNet(U, np.full((1000, 2047), 1e-3))


def test_evaluation_over_d_p_is_refused_with_its_hours(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(budget, "usable_cpus", lambda: 2)  # the measured machine: about 490 h
    net = _wide_network()
    for call in (
        lambda: net.iter_logits(),
        lambda: margin_report(net),
        lambda: normalized_margin(net),
        lambda: dataset_margin(net),
        lambda: summarise(net),
    ):
        message = refused(call, "(m, k, p) = (1000, 3, 2047)", "more than the limit 24 hours")
        assert "about 488 hours" in message


def test_a_chunk_that_does_not_fit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    net = construct(97, 3)
    monkeypatch.setattr(budget, "available_memory", lambda: 2**28)  # 256 MiB
    refused(lambda: net.iter_logits(chunk_rows=10**9), "evaluating", "of memory")
    refused(lambda: net.logits(np.zeros((10**6, 3), dtype=np.int64)), "logits", "of memory")
    small = construct(11, 3)  # negative control: all of D_p in one chunk fits
    assert len(list(small.iter_logits(chunk_rows=11**3))) == 1


@pytest.mark.parametrize("workers", [10**6, 2**40])
def test_thread_counts_are_bounded(workers: int) -> None:
    net = construct(5, 2)
    refused(lambda: net.map_chunks(lambda c: c.start, workers=workers), f"workers={workers}")


def test_an_overflowing_network_is_refused_where_margins_are_computed() -> None:
    """Weights of 1e100 overflow the logits (the margin came back NaN): refused, naming the fix."""
    net = construct(5, 2)
    big = PolyNet(net.U * 1e100, net.W * 1e100)
    for call in (
        lambda: margin_report(big),
        lambda: normalized_margin(big),
        lambda: dataset_margin(big),
        lambda: example_margins(big, [[0, 1]]),
    ):
        refused(call, "could overflow float64", "divide them by a constant")
    scaled = PolyNet(net.U * 1e10, net.W * 1e10)  # negative control: large but representable
    assert normalized_margin(scaled) == pytest.approx(normalized_margin(net), rel=1e-9)


@pytest.mark.parametrize("net", ["a network", 5, None, np.zeros((3, 2, 5))])
def test_functions_of_a_network_refuse_other_types(net: Any) -> None:
    for call in (margin_report, normalized_margin, neuron_spectra, summarise):
        refused(partial(call, net), "must be a theory.PolyNet")


# --- PolyNet and meta -----------------------------------------------------------------------


def test_polynet_refuses_meta_that_is_not_a_dict() -> None:
    net = construct(5, 2)
    metas: list[Any] = [5, "meta", [("a", 1)], None]
    for meta in metas:
        refused(partial(PolyNet, net.U, net.W, meta), "meta is a", "must be a dict")


def _nested(depth: int) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for _ in range(depth - 1):
        meta = {"a": meta}
    return meta


def test_deep_meta_is_refused_without_recursion() -> None:
    net = construct(5, 2)
    PolyNet(net.U, net.W, _nested(MAX_META_DEPTH))  # negative control: at the limit
    refused(lambda: PolyNet(net.U, net.W, _nested(100_000)), "nested more than 32 levels")
    cyclic: dict[str, Any] = {}
    cyclic["self"] = cyclic
    refused(lambda: PolyNet(net.U, net.W, cyclic), "nested more than")


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.floats() | st.integers() | st.text(max_size=5) | st.none() | st.booleans())
def test_saved_meta_is_always_valid_json(value: object, tmp_path: Path) -> None:
    """NaN and infinity were written as invalid JSON: now refused before writing; every value
    that is saved reads back as strict JSON."""
    path = tmp_path / "net.npz"
    path.unlink(missing_ok=True)  # tmp_path is shared by hypothesis's examples
    net = construct(5, 2).with_meta(value=value)
    if isinstance(value, float) and not math.isfinite(value):
        refused(lambda: net.save(path), "meta is not JSON-serialisable", "meta['value']")
        assert not path.exists()
        return
    net.save(path)
    with np.load(path, allow_pickle=False) as data:
        text = str(data["meta"])
    json.loads(text, parse_constant=lambda c: pytest.fail(f"invalid JSON constant {c}"))
    assert PolyNet.load(path).meta["value"] == value


@pytest.mark.parametrize(
    "meta",
    [{"x": object()}, {1: 2}, {"x": np.int64(3)}, {"x": [1, {"y": set()}]}, {"x": 10**5000}],
)
def test_non_json_meta_is_refused_when_saving(meta: dict[Any, Any], tmp_path: Path) -> None:
    net = PolyNet(construct(5, 2).U, construct(5, 2).W, meta)  # accepted as a value
    refused(lambda: net.save(tmp_path / "net.npz"), "meta is not JSON-serialisable")
    assert list(tmp_path.iterdir()) == []


# --- network files: headers before data -------------------------------------------------------


def _npy_header(shape: tuple[int, ...], dtype: str = "<f8") -> bytes:
    buffer = io.BytesIO()
    header = {"descr": dtype, "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, header)  # the magic string, then the header
    return buffer.getvalue()


def _npy(array: Any) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _write_npz(path: Path, members: dict[str, bytes], *, compress: bool = False) -> Path:
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", compression=method) as zf:
        for name, data in members.items():
            zf.writestr(f"{name}.npy", data)
    return path


def _small_members() -> dict[str, bytes]:
    net = construct(5, 2)
    return {"U": _npy(net.U), "W": _npy(net.W), "p": _npy(np.int64(5)), "k": _npy(np.int64(2))}


def test_a_forged_shape_is_refused_unread(tmp_path: Path) -> None:
    """A header claiming U of 10^6 x 3 x 10^6 float64 (24 PB) over a few bytes of data."""
    members = _small_members() | {"U": _npy_header((10**6, 3, 10**6)) + b"\0" * 64}
    path = _write_npz(tmp_path / "forged.npz", members)
    refused(lambda: PolyNet.load(path), "claims shape (1000000, 3, 1000000)", str(path))
    assert peak_bytes(lambda: PolyNet.load(path)) < 2**20


def test_a_compression_bomb_is_refused_unread(tmp_path: Path) -> None:
    """Compressed zeros: U of 2^27 bytes (128 MiB) stored in about 130 KB."""
    zeros = np.zeros((2**24 // 5, 2, 5))  # 8 x 2^24 bytes, rounded down to whole rows
    members = _small_members() | {"U": _npy(zeros)}
    path = _write_npz(tmp_path / "bomb.npz", members, compress=True)
    assert path.stat().st_size < 2**20
    refused(lambda: PolyNet.load(path), "member 'U' decompresses to", "compression bomb")
    assert peak_bytes(lambda: PolyNet.load(path)) < 2**20


def test_arrays_that_would_not_fit_are_refused_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    net = PolyNet(np.ones((2**14, 2, 5)), np.ones((2**14, 5)))  # U: 1.25 MiB
    path = net.save(tmp_path / "net.npz")
    assert PolyNet.load(path).m == 2**14  # negative control
    monkeypatch.setattr(budget, "available_memory", lambda: 2**20)
    refused(lambda: PolyNet.load(path), "loading", "U of shape (16384, 2, 5)", "of memory")
    assert peak_bytes(lambda: PolyNet.load(path)) < 2**19


def test_a_pickle_is_refused_without_suggesting_to_unpickle_it(tmp_path: Path) -> None:
    raw = tmp_path / "pickled.npz"
    raw.write_bytes(pickle.dumps({"U": [1, 2, 3]}))
    objects = tmp_path / "objects.npz"
    np.savez(objects, U=np.array([print], dtype=object), W=np.zeros((1, 5)), p=5, k=2)
    for path in (raw, objects):
        message = refused(partial(PolyNet.load, path), str(path))
        assert "allow_pickle=True" not in message and "unsafe" not in message
        assert "pickle.load" not in message
    assert "refused unread" in refused(lambda: PolyNet.load(objects), "allow_pickle=False")


def test_meta_nested_deeper_than_json_can_parse_is_refused(tmp_path: Path) -> None:
    members = _small_members() | {"meta": _npy(np.str_("[" * 100_000 + "]" * 100_000))}
    path = _write_npz(tmp_path / "deep.npz", members)
    refused(lambda: PolyNet.load(path), "meta is nested more than", str(path))


def test_a_normal_network_file_round_trips(tmp_path: Path) -> None:
    net = construct(7, 3, "lattice")
    back = PolyNet.load(net.save(tmp_path / "net.npz"))
    np.testing.assert_array_equal(back.U, net.U)
    assert back.meta == net.meta
    assert summarise(back).as_dict()["margin_ratio"] == pytest.approx(1.0, rel=1e-9)


# --- training and the Transformer: refused when configured -----------------------------------


@pytest.mark.parametrize(
    ("make", "needles"),
    [
        (lambda: TrainConfig(p=301, k=3), ("training p=301, k=3", "of memory")),
        (lambda: TrainConfig(p=13, k=2, width=10**7), ("width 10000000", "of memory")),
        (lambda: TrainConfig(p=7, k=10**12), ("p^k = 10^(8.45e+11)",)),
        (lambda: TrainConfig(p=5, k=2, seed=2**32), ("seed=4294967296", "2^32")),
        (lambda: TrainConfig(p=5, k=2, seed=-1), ("seed=-1",)),
        (lambda: TrainConfig(p=5, k=2, threads=10**6), ("threads=1000000", "at most")),
        (lambda: TrainConfig(p=11, k=3, steps=10**12), ("steps", "hours")),
        (lambda: TransformerConfig(p=11, k=3, d_model=10**6), ("d_model 1000000", "of memory")),
        (lambda: TransformerConfig(p=7, k=10**12), ("p^k = 10^(8.45e+11)",)),
        (lambda: TransformerConfig(p=5, k=2, seed=2**40), ("seed=",)),
        (lambda: TransformerConfig(p=11, k=3, steps=10**12), ("hours",)),
    ],
)
def test_training_configs_are_refused_before_allocating(
    make: Callable[[], Any], needles: tuple[str, ...]
) -> None:
    refused(make, *needles)


def test_legitimate_training_configs_are_accepted() -> None:
    assert TrainConfig(p=5, k=2).m == 16
    assert TrainConfig(p=97, k=3, optimizer="adamw").resolved().batch_size == 1024
    assert paper_config(31, 4, seed=2).n_heads == 160  # the paper's settings stay reachable
    assert TransformerConfig(p=11, k=3).eval_chunk >= 666


# --- convex programs: sizes refused up front ----------------------------------------------------


def test_convex_programs_refuse_their_sizes_up_front() -> None:
    refused(lambda: bracket(7, 10**12), "p^k = 10^(8.45e+11)")
    refused(lambda: bracket(5, 2, seed=2**32), "seed=")
    refused(lambda: bracket(5, 2, starts=10**8), "starts=100000000", "at most 1000")
    refused(lambda: sdp_certificate(1001), "SDP certificate at p=1001")
    refused(lambda: sos_certificate(101), "SOS certificate at p=101")
    refused(lambda: optimal_symmetric_q(10**6 + 3, 2), "SOCP at p=1000003")
    rng = np.random.default_rng(0)
    refused(lambda: column_generation(5, 2, rng=rng, starts=0), "starts=0")
    refused(lambda: column_generation(5, 2, rng=0, method="reduced"), "rng=0")  # type: ignore[arg-type]
    refused(lambda: column_generation(7, 10**12, rng=rng, method="full"), "rows at")
