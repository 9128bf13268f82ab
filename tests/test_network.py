"""The network (theory.network.PolyNet): paper eq. 2 of arXiv 2402.09469 against a naive one-hot
evaluation, its chunked and threaded evaluation, norms, homogeneity, validation, and the .npz
file format of DESIGN.md (round trip, and every way a file can be bad)."""

from __future__ import annotations

import errno
import json
import os
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, note, settings
from hypothesis import strategies as st
from naive import EPS, logit_roundoff, naive_hidden, naive_logits, naive_norm
from strategies import chunk_sizes, gaussian_networks, seeds

from fourier_circuits.constructions import construct
from fourier_circuits.testing import inputs as input_batches
from fourier_circuits.testing import problems
from fourier_circuits.theory import FourierCircuitsError, PolyNet, Task, all_inputs, labels

# Relative agreement for norms: a sum of (k+2) p m squares and one root, each exact to a few eps;
# 1e-12 is far above that round-off and far below any real mistake (a missing term is O(1/m)).
NORM_RTOL = 1e-12

# Homogeneity and permutation compare two float64 evaluations of the same sum; their difference is
# bounded per logit by naive.logit_roundoff, which already holds the factor 2 for two evaluations.

small_networks = gaussian_networks(problems(max_examples=1500), max_width=48)


def assert_logits_close(net: PolyNet, inputs: Any, got: np.ndarray, want: np.ndarray) -> None:
    """Agreement to the first-order round-off bound of the sums (naive.logit_roundoff)."""
    bound = logit_roundoff(net, inputs)
    diff = np.abs(got - want)
    assert (diff <= bound).all(), f"max |got - want| = {diff.max():.3e}, bound {bound.max():.3e}"


# --- evaluation against the definition ----------------------------------------------------------


@settings(max_examples=40)
@given(small_networks, st.data())
def test_logits_equal_the_one_hot_definition(net: PolyNet, data: st.DataObject) -> None:
    a = data.draw(input_batches(net.p, net.k), label="inputs")
    assert_logits_close(net, a, net.logits(a), naive_logits(net, a))
    # z is a sum of k entries of U: two summation orders differ by at most
    # 2 (k - 1) eps sum_j |U[i, j, a_j]| <= 2 (k - 1) k eps max|U|
    atol = 2 * (net.k - 1) * net.k * EPS * np.abs(net.U).max()
    np.testing.assert_allclose(net.hidden(a), naive_hidden(net, a), rtol=0, atol=atol)


@settings(max_examples=25)
@given(small_networks, st.data())
def test_chunked_evaluation_equals_the_whole_batch(net: PolyNet, data: st.DataObject) -> None:
    """iter_logits and map_chunks (workers 1, 2, 3; any chunk_rows) reproduce net.logits on
    D_p, in lexicographic order, with the correct labels."""
    task = net.task
    a = all_inputs(task)
    whole = net.logits(a)
    y = labels(a, net.p)
    rows = data.draw(chunk_sizes(net.p), label="chunk_rows")
    streams = {"iter_logits": list(net.iter_logits(chunk_rows=rows))}
    for workers in (1, 2, 3):
        streams[f"workers={workers}"] = net.map_chunks(
            lambda c: c, chunk_rows=rows, workers=workers
        )
    for name, chunks in streams.items():
        note(f"{name}: {len(chunks)} chunks")
        starts = [c.start for c in chunks]
        sizes = [len(c.labels) for c in chunks]
        assert starts == list(np.cumsum([0, *sizes[:-1]])), name  # contiguous, in order
        assert sum(sizes) == task.n_examples
        np.testing.assert_array_equal(np.concatenate([c.labels for c in chunks]), y)
        streamed = np.concatenate([c.logits for c in chunks])
        assert_logits_close(net, a, streamed, whole)


@settings(max_examples=10)
@given(small_networks, st.sampled_from([1, 2, 3, 7]))
def test_logits_do_not_depend_on_chunk_rows(net: PolyNet, rows: int) -> None:
    a = all_inputs(net.task)
    assert_logits_close(net, a, net.logits(a, chunk_rows=rows), net.logits(a))


def test_chunks_of_one_thread_are_bitwise_equal_to_the_threaded_ones() -> None:
    # Same chunk boundaries, same single-threaded kernels: the results must agree exactly.
    net = construct(11, 3)
    one = np.concatenate([c.logits for c in net.iter_logits(chunk_rows=11)])
    threaded = np.concatenate(net.map_chunks(lambda c: c.logits, chunk_rows=11, workers=3))
    np.testing.assert_array_equal(one, threaded)


@pytest.mark.parametrize("block_rows", [1, 2, "p", "2p", "3p+1"])
def test_element_wise_blocking_does_not_change_a_bit(
    block_rows: int | str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The add and the power run on cache-sized blocks of the chunk
    (theory.evaluation._BLOCK_BYTES); element-wise work is the same whatever the blocks, so the
    logits must agree exactly."""
    from fourier_circuits.theory import evaluation

    net = construct(7, 3)
    reference = np.concatenate([c.logits for c in net.iter_logits(chunk_rows=5 * 7)])
    rows = {"p": 7, "2p": 14, "3p+1": 22}.get(str(block_rows), block_rows)
    monkeypatch.setattr(evaluation, "_BLOCK_BYTES", 8 * net.m * int(rows))
    blocked = np.concatenate([c.logits for c in net.iter_logits(chunk_rows=5 * 7)])
    np.testing.assert_array_equal(blocked, reference)
    assert_logits_close(net, all_inputs(net.task), blocked, naive_logits(net, all_inputs(net.task)))


def test_map_chunks_returns_fn_results_in_order() -> None:
    net = construct(7, 3)
    starts = net.map_chunks(lambda c: c.start, chunk_rows=7, workers=3)
    assert starts == list(range(0, 7**3, 7))


@pytest.mark.parametrize("workers", [0, -1, 1.5, True])
def test_map_chunks_refuses_bad_workers(workers: Any) -> None:
    with pytest.raises(FourierCircuitsError, match="workers"):
        construct(5, 2).map_chunks(len, workers=workers)


@pytest.mark.parametrize("rows", [0, -7, 2.5])
def test_evaluation_refuses_bad_chunk_rows(rows: Any) -> None:
    net = construct(5, 2)
    with pytest.raises(FourierCircuitsError, match="chunk_rows"):
        net.logits([[0, 1]], chunk_rows=rows)
    with pytest.raises(FourierCircuitsError, match="chunk_rows"):
        net.iter_logits(chunk_rows=rows)  # refused on the call, before any chunk
    with pytest.raises(FourierCircuitsError, match="chunk_rows"):
        net.map_chunks(len, chunk_rows=rows, workers=2)


def test_iter_logits_refuses_too_large_d_p_on_the_call() -> None:
    net = PolyNet(np.ones((1, 6, 101)), np.ones((1, 101)))  # p^k = 1.06e12
    with pytest.raises(FourierCircuitsError, match=r"p\^k = 1\.062e\+12.*hours"):
        net.iter_logits()


# --- norms, homogeneity, permutations ----------------------------------------------------------


@given(small_networks)
def test_norm_is_the_l2_k_plus_1_norm(net: PolyNet) -> None:
    expected = np.sqrt((net.U**2).sum(axis=(1, 2)) + (net.W**2).sum(axis=1))
    np.testing.assert_allclose(net.neuron_norms(), expected, rtol=NORM_RTOL)
    assert net.norm() == pytest.approx(naive_norm(net), rel=NORM_RTOL)
    assert net.normalized().norm() == pytest.approx(1.0, rel=NORM_RTOL)


@settings(max_examples=30)
@given(small_networks, st.floats(min_value=-1.0, max_value=1.0).map(lambda e: 10.0**e), st.data())
def test_homogeneity_scales_logits_by_alpha_to_the_k_plus_1(
    net: PolyNet, alpha: float, data: st.DataObject
) -> None:
    """f(alpha theta) = alpha^(k+1) f(theta) (Section 3) and ||alpha theta|| = alpha ||theta||."""
    a = data.draw(input_batches(net.p, net.k), label="inputs")
    scaled = net.scaled(alpha)
    # scaling the weights rounds each once (relative eps), which the (m + ...) bound absorbs
    bound = logit_roundoff(scaled, a) + alpha ** (net.k + 1) * logit_roundoff(net, a)
    diff = np.abs(scaled.logits(a) - alpha ** (net.k + 1) * net.logits(a))
    assert (diff <= bound).all()
    assert scaled.norm() == pytest.approx(alpha * net.norm(), rel=NORM_RTOL)


@settings(max_examples=30)
@given(small_networks, seeds, st.data())
def test_logits_are_invariant_under_permuting_neurons(
    net: PolyNet, seed: int, data: st.DataObject
) -> None:
    a = data.draw(input_batches(net.p, net.k), label="inputs")
    perm = np.random.default_rng(seed).permutation(net.m)
    shuffled = net.select(perm)
    assert_logits_close(net, a, shuffled.logits(a), net.logits(a))
    assert shuffled.norm() == pytest.approx(net.norm(), rel=NORM_RTOL)


def test_select_takes_neurons_by_index_or_mask() -> None:
    net = construct(5, 2)
    mask = np.arange(net.m) % 2 == 0
    np.testing.assert_array_equal(net.select(mask).U, net.U[mask])
    np.testing.assert_array_equal(net.select([3, 1]).W, net.W[[3, 1]])


@pytest.mark.parametrize(
    ("neurons", "match"),
    [
        (np.zeros(16, dtype=bool), "kept no neurons"),
        (np.ones(3, dtype=bool), "must index the m=16 neurons"),
        ([100], "must index the m=16 neurons"),
    ],
)
def test_select_refuses_bad_indices(neurons: Any, match: str) -> None:
    with pytest.raises(FourierCircuitsError, match=match):
        construct(5, 2).select(neurons)


def test_normalizing_a_zero_network_is_refused() -> None:
    with pytest.raises(FourierCircuitsError, match="zero"):
        PolyNet(np.zeros((2, 2, 5)), np.zeros((2, 5))).normalized()


# --- validation -----------------------------------------------------------------------------------

U5 = np.ones((4, 2, 5))
W5 = np.ones((4, 5))


@pytest.mark.parametrize(
    ("U", "W", "match"),
    [
        (np.ones((4, 5)), W5, r"U has shape \(4, 5\); it must have 3 axes"),
        (U5, np.ones(5), r"W has shape \(5,\); it must have 2 axes"),
        (U5, np.ones((3, 5)), r"W has shape \(3, 5\); .* it must be \(4, 5\)"),
        (U5, np.ones((4, 7)), r"W has shape \(4, 7\); .* it must be \(4, 5\)"),
        (np.ones((0, 2, 5)), np.ones((0, 5)), "m >= 1"),
        (np.ones((4, 2, 4)), np.ones((4, 4)), "p=4 must be an odd integer"),
        (np.ones((4, 1, 5)), W5, "k=1 must be an integer >= 2"),
        (np.ones((4, 2, 1)), np.ones((4, 1)), "p=1 must be an odd integer"),
        (U5.astype(complex), W5, "U has dtype complex128; it must hold real numbers"),
        (U5.astype(bool), W5, "U has dtype bool"),
        (U5, W5.astype(object), "W has dtype object"),
        (np.full((4, 2, 5), "x"), W5, "U has dtype <U1"),
        ([[[1.0]], [[1.0, 2.0]]], W5, "U cannot be read as an array"),
    ],
)
def test_bad_arrays_are_refused_with_the_reason(U: Any, W: Any, match: str) -> None:
    with pytest.raises(FourierCircuitsError, match=match):
        PolyNet(U, W)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", ["U", "W"])
def test_non_finite_weights_are_refused(bad: float, where: str) -> None:
    U, W = U5.copy(), W5.copy()
    (U if where == "U" else W).flat[3] = bad
    with pytest.raises(FourierCircuitsError, match=rf"{where} holds 1 non-finite values"):
        PolyNet(U, W)


def test_weights_are_float64_read_only_copies() -> None:
    U = np.ones((4, 2, 5), dtype=np.float32)
    W = np.arange(20).reshape(4, 5)  # integers are real numbers too
    net = PolyNet(U, W)
    assert net.U.dtype == net.W.dtype == np.float64
    U[0, 0, 0] = 7.0
    assert net.U[0, 0, 0] == 1.0  # a copy, not a view
    with pytest.raises(ValueError, match="read-only"):
        net.U[0, 0, 0] = 2.0


@pytest.mark.parametrize(
    ("inputs", "match"),
    [
        ([[0, 5]], r"inputs range over \[0, 5\]; they must lie in \[0, p\) = \[0, 5\)"),
        ([[-1, 0]], r"inputs range over \[-1, 0\]"),
        ([[0, 1, 2]], r"inputs have shape \(1, 3\); they must have shape \(N, k\) = \(N, 2\)"),
        ([0, 1], r"inputs have shape \(2,\)"),
        ([[0.0, 1.0]], "inputs have dtype float64; they must be integers"),
        ([[True, False]], "inputs have dtype bool"),
    ],
)
def test_bad_inputs_are_refused(inputs: Any, match: str) -> None:
    net = PolyNet(U5, W5)
    with pytest.raises(FourierCircuitsError, match=match):
        net.logits(inputs)


# --- the .npz format ------------------------------------------------------------------------------

metas = st.dictionaries(
    st.text(max_size=8),
    st.none()
    | st.booleans()
    | st.integers(-(10**9), 10**9)
    | st.text(max_size=12)
    | st.lists(st.integers(0, 9), max_size=3),
    max_size=4,
)


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(net=small_networks, meta=metas)
def test_save_then_load_round_trips_exactly(net: PolyNet, meta: dict, tmp_path: Path) -> None:
    net = net.with_meta(**{f"m_{key}": value for key, value in meta.items()})
    path = tmp_path / "net.npz"
    assert net.save(path) == path
    back = PolyNet.load(path)
    np.testing.assert_array_equal(back.U, net.U)
    np.testing.assert_array_equal(back.W, net.W)
    assert (back.p, back.k, back.m) == (net.p, net.k, net.m)
    assert back.meta == net.meta
    assert sorted(os.listdir(tmp_path)) == ["net.npz"]  # no temporary file left
    with np.load(path, allow_pickle=False) as data:  # the documented layout (DESIGN.md)
        assert sorted(data.files) == ["U", "W", "k", "meta", "p"]
        assert data["U"].dtype == data["W"].dtype == np.float64
        assert (int(data["p"]), int(data["k"])) == (net.p, net.k)
        assert json.loads(str(data["meta"])) == net.meta


def test_save_overwrites_atomically_and_respects_the_umask(tmp_path: Path) -> None:
    path = tmp_path / "net.npz"
    construct(5, 2).save(path)
    old = os.umask(0o027)
    try:
        construct(7, 2).save(path)
    finally:
        os.umask(old)
    assert PolyNet.load(path).p == 7
    assert path.stat().st_mode & 0o777 == 0o640
    assert sorted(os.listdir(tmp_path)) == ["net.npz"]


def test_a_file_without_meta_loads_with_empty_meta(tmp_path: Path) -> None:
    net = construct(5, 2)
    np.savez(tmp_path / "bare.npz", U=net.U, W=net.W, p=5, k=2)
    assert PolyNet.load(tmp_path / "bare.npz").meta == {}


def _write_bad_files(folder: Path) -> dict[str, tuple[Path, str]]:
    """Every way a network file can be bad: name -> (path, the message it must give)."""
    net = construct(5, 2)
    good = net.save(folder / "good.npz")
    raw = good.read_bytes()
    bad: dict[str, tuple[Path, str]] = {}

    def add(name: str, match: str, **arrays: Any) -> None:
        path = folder / f"{name}.npz"
        np.savez(path, **arrays)
        bad[name] = (path, match)

    for cut in (0, 10, len(raw) // 2, len(raw) - 1):
        path = folder / f"truncated_{cut}.npz"
        path.write_bytes(raw[:cut])
        bad[f"truncated_{cut}"] = (path, "not a valid .npz")
    corrupt = bytearray(raw)
    corrupt[len(raw) // 2 : len(raw) // 2 + 64] = bytes(64)  # zero 64 bytes inside U's data
    (folder / "corrupt_data.npz").write_bytes(bytes(corrupt))
    bad["corrupt_data"] = (folder / "corrupt_data.npz", "not a valid .npz")
    (folder / "garbage.npz").write_bytes(b"\x00\x01garbage" * 100)
    bad["garbage"] = (folder / "garbage.npz", "not a valid .npz")
    with zipfile.ZipFile(folder / "foreign_zip.npz", "w") as zf:
        zf.writestr("U.npy", b"not an npy header")
        for key in ("W", "p", "k"):
            zf.writestr(f"{key}.npy", b"")
    bad["foreign_zip"] = (folder / "foreign_zip.npz", "member 'U' is not a .npy array")
    np.save(folder / "single.npy", net.U)
    os.replace(folder / "single.npy", folder / "single.npz")
    bad["npy"] = (folder / "single.npz", "single .npy array")
    add("missing_W", r"lacks the arrays \['W'\]", U=net.U, p=5, k=2)
    add("missing_pk", r"lacks the arrays \['p', 'k'\]", U=net.U, W=net.W)
    add(
        "p_disagrees",
        r"stored p=7, k=2 do not match U of shape \(16, 2, 5\)",
        U=net.U,
        W=net.W,
        p=7,
        k=2,
    )
    add("k_disagrees", r"stored p=5, k=3 do not match", U=net.U, W=net.W, p=5, k=3)
    add("p_not_integer", r"stored p=.* must be a single integer", U=net.U, W=net.W, p=5.5, k=2)
    add("p_text", r"stored p=.* must be a single integer", U=net.U, W=net.W, p="five", k=2)
    add("p_array", r"stored p=.* must be a single integer", U=net.U, W=net.W, p=[5, 5], k=2)
    add(
        "object_array",
        "Object arrays cannot be loaded when allow_pickle=False",
        U=np.array([{"a": 1}] * 3, dtype=object),
        W=net.W,
        p=5,
        k=2,
    )
    add("even_p", "p=4 must be an odd integer", U=net.U[:, :, :4], W=net.W[:, :4], p=4, k=2)
    add("bad_W_shape", r"W has shape \(16, 4\)", U=net.U, W=net.W[:, :4], p=5, k=2)
    with_nan = net.U.copy()
    with_nan[3, 1, 2] = np.nan
    add("nan", "U holds 1 non-finite", U=with_nan, W=net.W, p=5, k=2)
    add("meta_not_json", "meta is not valid JSON", U=net.U, W=net.W, p=5, k=2, meta="{oops")
    add("meta_not_object", "meta must be a JSON object", U=net.U, W=net.W, p=5, k=2, meta="[1, 2]")
    return bad


def test_every_bad_file_is_refused_with_its_reason(tmp_path: Path) -> None:
    problems = []
    for name, (path, match) in _write_bad_files(tmp_path).items():
        try:
            PolyNet.load(path)
        except FourierCircuitsError as err:
            if not re.search(match, str(err)) or str(path) not in str(err):
                problems.append(f"{name}: message {str(err)!r} lacks {match!r} or the path")
        except Exception as err:  # any other exception type is itself the failure
            problems.append(f"{name}: raised {type(err).__name__}: {err}")
        else:
            problems.append(f"{name}: loaded without complaint")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("where", ["does_not_exist.npz", "no_such_dir/net.npz", "."])
def test_loading_a_missing_file_is_refused(tmp_path: Path, where: str) -> None:
    with pytest.raises(FourierCircuitsError, match="no such file"):
        PolyNet.load(tmp_path / where)


def test_object_arrays_are_never_unpickled(tmp_path: Path) -> None:
    # a pickled payload that would run code if loaded with allow_pickle=True
    net = construct(5, 2)
    path = tmp_path / "pickled.npz"
    np.savez(path, U=np.array([os.getcwd], dtype=object), W=net.W, p=5, k=2)
    with pytest.raises(FourierCircuitsError, match="allow_pickle=False"):
        PolyNet.load(path)


# --- saving: failures leave nothing behind -------------------------------------------------------


def test_saving_into_a_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FourierCircuitsError, match="is not a directory"):
        construct(5, 2).save(tmp_path / "missing" / "net.npz")
    assert os.listdir(tmp_path) == []


def test_saving_below_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(FourierCircuitsError, match="is not a directory"):
        construct(5, 2).save(tmp_path / "file" / "net.npz")
    assert os.listdir(tmp_path) == ["file"]


def test_saving_over_a_directory_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    (tmp_path / "net.npz").mkdir()
    with pytest.raises(FourierCircuitsError, match="cannot save to"):
        construct(5, 2).save(tmp_path / "net.npz")
    assert os.listdir(tmp_path) == ["net.npz"]
    assert os.listdir(tmp_path / "net.npz") == []


def test_saving_into_an_unwritable_directory_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # chmod cannot stop root, so the refusal of the operating system is simulated where it occurs
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr("tempfile.mkstemp", refuse)
    with pytest.raises(FourierCircuitsError, match=r"cannot save to .*Permission denied"):
        construct(5, 2).save(tmp_path / "net.npz")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "failure",
    [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()],
    ids=["disk-full", "interrupt"],
)
def test_a_save_that_fails_midway_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: BaseException
) -> None:
    real_savez = np.savez

    def half_then_fail(fh: Any, **arrays: Any) -> None:
        real_savez(fh, U=arrays["U"])  # some bytes reach the disk
        raise failure

    path = tmp_path / "net.npz"
    construct(5, 2).save(path)
    monkeypatch.setattr(np, "savez", half_then_fail)
    expected = FourierCircuitsError if isinstance(failure, OSError) else KeyboardInterrupt
    with pytest.raises(expected):
        construct(7, 2).save(path)
    assert os.listdir(tmp_path) == ["net.npz"]  # no temporary file ...
    assert PolyNet.load(path).p == 5  # ... and the old file untouched


def test_meta_that_is_not_json_is_refused_before_writing(tmp_path: Path) -> None:
    net = construct(5, 2).with_meta(bad=object())
    with pytest.raises(FourierCircuitsError, match="meta is not JSON-serialisable"):
        net.save(tmp_path / "net.npz")
    assert os.listdir(tmp_path) == []


@example(pk=(3, 2))
@settings(max_examples=5)
@given(problems(max_examples=500))
def test_task_of_a_network(pk: tuple[int, int]) -> None:
    p, k = pk
    net = PolyNet(np.ones((3, k, p)), np.ones((3, p)))
    assert net.task == Task(p, k)
    assert (net.m, net.k, net.p) == (3, k, p)
